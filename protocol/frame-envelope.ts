// What every Potluck binary frame shares (tensor-frame.ts, activation-frame.ts): a 4-byte ASCII
// magic at offset 0 (frame-magics.ts), a version byte right after it, and a CRC-32 over every
// byte of the frame except the checksum field itself, which sits at the end of the fixed header.
import { crc32 } from './crc32.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';
import { hasMagic, MAGIC_BYTES, MAGIC_OFFSET } from './frame-magics.ts';

export interface FrameEnvelope {
  /** What the frame is called in refusals ("tensor frame"). */
  readonly name: string;
  /** One of frame-magics.ts's. */
  readonly magic: Uint8Array;
  readonly version: number;
  readonly headerBytes: number;
  /** The u32 checksum's offset: the header's last 4 bytes. */
  readonly checksumOffset: number;
}

export { MAGIC_OFFSET };
/** The version byte follows the 4-byte magic in every frame. */
export const VERSION_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;

/** CRC-32 of the frame with the checksum field left out. */
export function envelopeChecksum(envelope: FrameEnvelope, bytes: Uint8Array): number {
  return crc32(bytes.subarray(envelope.headerBytes), crc32(bytes.subarray(0, envelope.checksumOffset)));
}

/** Writes the magic and version of a new frame. */
export function writeEnvelope(envelope: FrameEnvelope, out: Uint8Array): void {
  out.set(envelope.magic, MAGIC_OFFSET);
  out[VERSION_OFFSET] = envelope.version;
}

/** Whether `bytes` is long enough for the header and starts with the envelope's magic. */
export function hasEnvelope(envelope: FrameEnvelope, bytes: Uint8Array): boolean {
  return bytes.length >= envelope.headerBytes && hasMagic(bytes, envelope.magic);
}

/** A view of the header for reading fields, when `bytes` starts like the envelope's frame. */
export function peekHeader(envelope: FrameEnvelope, bytes: Uint8Array): DataView | null {
  return hasEnvelope(envelope, bytes) ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null;
}

/** Checks the header's length, magic and version; never throws. */
export function openEnvelope(envelope: FrameEnvelope, bytes: Uint8Array): DecodeResult<DataView> {
  if (bytes.length < envelope.headerBytes)
    return refuse(
      'ERR_FRAME_TRUNCATED',
      `${bytes.length} bytes is shorter than the ${envelope.headerBytes}-byte header`,
    );
  if (!hasMagic(bytes, envelope.magic)) return refuse('ERR_FRAME_MAGIC', `not a ${envelope.name}`);
  const version = bytes[VERSION_OFFSET] as number;
  if (version !== envelope.version)
    return refuse('ERR_FRAME_VERSION', `frame version ${version}; this reader knows ${envelope.version}`);
  return { ok: true, value: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * Checks an opened frame against the size its header declares, `total` bytes: under the
 * reader's cap, neither cut short nor followed by more, and its checksum intact. Never throws.
 */
export function checkFrameBytes(
  envelope: FrameEnvelope,
  bytes: Uint8Array,
  total: number,
  maxFrameBytes: number,
): DecodeResult<null> {
  if (total > maxFrameBytes)
    return refuse('ERR_FRAME_TOO_LARGE', `a ${total}-byte frame exceeds the cap of ${maxFrameBytes}`);
  if (bytes.length < total)
    return refuse('ERR_FRAME_TRUNCATED', `${bytes.length} bytes of a ${total}-byte frame`);
  if (bytes.length > total)
    return refuse('ERR_FRAME_TRAILING_BYTES', `${bytes.length - total} bytes after the frame`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(envelope.checksumOffset, true) !== envelopeChecksum(envelope, bytes))
    return refuse('ERR_FRAME_CHECKSUM', 'checksum mismatch');
  return { ok: true, value: null };
}

/** Writes a frame's body, the f32 scales then the u32 words, from `at`; returns where it ends. */
export function writeScalesAndWords(
  view: DataView,
  at: number,
  scales: Float32Array,
  words: Uint32Array,
): number {
  for (const scale of scales) {
    view.setFloat32(at, scale, true);
    at += 4;
  }
  for (const word of words) {
    view.setUint32(at, word, true);
    at += 4;
  }
  return at;
}

/** Seals a written frame: its checksum over every other byte goes into the header. */
export function sealFrame(envelope: FrameEnvelope, out: Uint8Array): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(
    envelope.checksumOffset,
    envelopeChecksum(envelope, out),
    true,
  );
}
