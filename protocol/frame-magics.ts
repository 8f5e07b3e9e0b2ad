// Every Potluck binary format's magic, listed once. Each starts with four ASCII bytes at
// offset 0, "PLT" and a letter of its own, so a reader that finds the wrong magic knows at
// once it holds some other format, never a corrupted one of its own. Two formats that shared
// a magic would be told apart only by their later fields, so test/unit/protocol/frame-magics
// checks that these stay distinct; a new format takes a new letter here.
//
// Checkpoints are safetensors files (safetensors.ts), which have no magic of their own.

/** Bytes of every magic; the version field that follows it starts here. */
export const MAGIC_BYTES = 4;
/** Where the magic sits in every format. */
export const MAGIC_OFFSET = 0;

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** ASCII "PLTF": a compressed tensor, such as a pseudo-gradient (tensor-frame.ts). */
export const TENSOR_FRAME_MAGIC = ascii('PLTF');
/** ASCII "PLTA": a microbatch's activations at a pipeline-stage boundary (activation-frame.ts). */
export const ACTIVATION_FRAME_MAGIC = ascii('PLTA');
/** ASCII "PLTC": one chunk of a data-channel message (frame-chunks.ts). */
export const CHUNK_MAGIC = ascii('PLTC');
/** ASCII "PLTM": the mesh's mutual authentication handshake (mesh-auth-frame.ts). */
export const MESH_AUTH_MAGIC = ascii('PLTM');
/** ASCII "PLTK": a file of training tokens (token-shard.ts). */
export const TOKEN_SHARD_MAGIC = ascii('PLTK');
/** ASCII "PLTS": an author's signed claim of its round frame's hash (the mesh format of old; kept reserved). */
export const FRAME_CLAIM_MAGIC = ascii('PLTS');
/** ASCII "PLTG": a piece of a round's aggregate, passed on within a group (aggregate-piece.ts). */
export const AGGREGATE_PIECE_MAGIC = ascii('PLTG');
/** ASCII "PLTQ": a request for a piece of a committed state file (state-piece-message.ts). */
export const STATE_REQUEST_MAGIC = ascii('PLTQ');
/** ASCII "PLTR": a piece of a committed state file with its proof (state-piece-message.ts). */
export const STATE_PIECE_MAGIC = ascii('PLTR');

/** Every magic by format, for the test that keeps them distinct. */
export const FRAME_MAGICS: Readonly<Record<string, Uint8Array>> = {
  'tensor frame': TENSOR_FRAME_MAGIC,
  'activation frame': ACTIVATION_FRAME_MAGIC,
  chunk: CHUNK_MAGIC,
  'mesh auth frame': MESH_AUTH_MAGIC,
  'token shard': TOKEN_SHARD_MAGIC,
  'frame claim': FRAME_CLAIM_MAGIC,
  'aggregate piece': AGGREGATE_PIECE_MAGIC,
  'state request': STATE_REQUEST_MAGIC,
  'state piece': STATE_PIECE_MAGIC,
};

/** Whether `bytes` is at least a magic long and starts with `magic`. Never throws. */
export function hasMagic(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= MAGIC_OFFSET + magic.length && magic.every((b, i) => bytes[MAGIC_OFFSET + i] === b);
}
