// What every Potluck binary frame shares (tensor-frame.ts, activation-frame.ts): a 4-byte ASCII
// magic at offset 0, a version byte right after it, and a CRC-32 over every byte of the frame
// except the checksum field itself, which sits at the end of the fixed header.
import { crc32 } from './crc32.ts';
import { type DecodeResult, refuse } from './frame-errors.ts';

export interface FrameEnvelope {
  /** What the frame is called in refusals ("tensor frame"). */
  readonly name: string;
  readonly magic: Uint8Array;
  readonly version: number;
  readonly headerBytes: number;
  /** The u32 checksum's offset: the header's last 4 bytes. */
  readonly checksumOffset: number;
}

export const MAGIC_OFFSET = 0;
/** The version byte follows the 4-byte magic in every frame. */
export const VERSION_OFFSET = MAGIC_OFFSET + 4;

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
  return (
    bytes.length >= envelope.headerBytes && envelope.magic.every((b, i) => bytes[MAGIC_OFFSET + i] === b)
  );
}

/** Checks the header's length, magic and version; never throws. */
export function openEnvelope(envelope: FrameEnvelope, bytes: Uint8Array): DecodeResult<DataView> {
  if (bytes.length < envelope.headerBytes)
    return refuse(
      'ERR_FRAME_TRUNCATED',
      `${bytes.length} bytes is shorter than the ${envelope.headerBytes}-byte header`,
    );
  if (!envelope.magic.every((b, i) => bytes[MAGIC_OFFSET + i] === b))
    return refuse('ERR_FRAME_MAGIC', `not a ${envelope.name}`);
  const version = bytes[VERSION_OFFSET] as number;
  if (version !== envelope.version)
    return refuse('ERR_FRAME_VERSION', `frame version ${version}; this reader knows ${envelope.version}`);
  return { ok: true, value: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
