// Token shard: one file of training tokens with a header that says what it holds, in the
// spirit of llm.c's `.bin` data files (magic, version, count, then raw little-endian ids).
// Shards travel from the relay to volunteers, so the decoder treats them as untrusted: it
// never throws, and checks every declared length against the buffer and a cap first.
//
// Layout (all integers little-endian):
//
//   offset  size  field
//   0       4     magic, ASCII "PLTK" (Potluck tokens)
//   4       4     format version (u32), currently 1
//   8       4     header length in bytes (u32); tokens start here. 32 in version 1; a reader
//                 skips any extra bytes, so fields can be appended without a version bump
//   12      4     dtype code (u32): 1 = uint16; 2 = uint32 is reserved for vocabularies
//                 above 65536 and refused until a reader for it exists
//   16      4     vocabulary size (u32); every token is < this
//   20      8     token count (u64); a u64 so the header never limits shard size, while
//                 MAX_SHARD_TOKENS keeps what a reader will accept far below 2^53
//   28      4     reserved, written as 0
//   32      ...   token count x dtype-size bytes of token ids

import { hasMagic, MAGIC_OFFSET, TOKEN_SHARD_MAGIC } from './frame-magics.ts';

export const TOKEN_SHARD_VERSION = 1;

const U32_BYTES = 4;
const U64_BYTES = 8;

export { MAGIC_OFFSET };
export const VERSION_OFFSET = MAGIC_OFFSET + TOKEN_SHARD_MAGIC.length;
export const HEADER_LENGTH_OFFSET = VERSION_OFFSET + U32_BYTES;
export const DTYPE_OFFSET = HEADER_LENGTH_OFFSET + U32_BYTES;
export const VOCAB_SIZE_OFFSET = DTYPE_OFFSET + U32_BYTES;
export const TOKEN_COUNT_OFFSET = VOCAB_SIZE_OFFSET + U32_BYTES;
export const RESERVED_OFFSET = TOKEN_COUNT_OFFSET + U64_BYTES;
/** Bytes in a version-1 header; also the least a reader needs to parse one. */
export const TOKEN_SHARD_HEADER_BYTES = RESERVED_OFFSET + U32_BYTES;
/** Longest header a reader accepts, so a hostile header length cannot push tokens far away. */
export const MAX_HEADER_BYTES = 4096;

/**
 * Most tokens a shard may declare: 2^27 (256 MiB of uint16), well above the prepare step's
 * 10M default, well below what a browser tab can allocate. Checked before allocating.
 */
export const MAX_SHARD_TOKENS = 2 ** 27;

/** dtype codes; the number is what the header stores. */
export const TokenDtype = { uint16: 1, uint32: 2 } as const;
export type TokenDtypeCode = (typeof TokenDtype)[keyof typeof TokenDtype];

const BYTES_PER_TOKEN: Readonly<Record<TokenDtypeCode, number>> = { 1: 2, 2: 4 };
/** dtypes this version can read and write. */
const SUPPORTED_DTYPES: readonly TokenDtypeCode[] = [TokenDtype.uint16];

export interface TokenShardHeader {
  readonly version: number;
  readonly headerLength: number;
  readonly dtype: TokenDtypeCode;
  readonly vocabSize: number;
  readonly tokenCount: number;
}

export interface TokenShard {
  readonly header: TokenShardHeader;
  readonly tokens: Uint16Array;
}

export type TokenShardErrorCode =
  | 'ERR_SHARD_TRUNCATED' // fewer bytes than the header or the declared count needs
  | 'ERR_SHARD_BAD_MAGIC' // not a token shard at all
  | 'ERR_SHARD_BAD_VERSION' // a version this reader does not know
  | 'ERR_SHARD_BAD_HEADER' // header length out of range or misaligned
  | 'ERR_SHARD_BAD_DTYPE' // unknown or unsupported dtype code
  | 'ERR_SHARD_BAD_VOCAB' // vocab size 0 or too large for the dtype
  | 'ERR_SHARD_TOO_LARGE' // declared count above MAX_SHARD_TOKENS
  | 'ERR_SHARD_TRAILING_BYTES' // more bytes than the declared count explains
  | 'ERR_SHARD_TOKEN_OUT_OF_RANGE'; // a token id >= vocab size

export interface TokenShardError {
  readonly code: TokenShardErrorCode;
  readonly message: string;
}

type Failure = { readonly ok: false; readonly error: TokenShardError };

export type TokenShardHeaderResult = { readonly ok: true; readonly header: TokenShardHeader } | Failure;
export type TokenShardResult = { readonly ok: true; readonly shard: TokenShard } | Failure;

function fail(code: TokenShardErrorCode, message: string): Failure {
  return { ok: false, error: { code, message } };
}

function isSupportedDtype(code: number): code is TokenDtypeCode {
  return (SUPPORTED_DTYPES as readonly number[]).includes(code);
}

/** Bytes one token of this dtype takes. */
export function bytesPerToken(dtype: TokenDtypeCode): number {
  return BYTES_PER_TOKEN[dtype];
}

/** Total bytes of a well-formed shard with this header: what a file reader should find. */
export function tokenShardByteLength(header: TokenShardHeader): number {
  return header.headerLength + header.tokenCount * bytesPerToken(header.dtype);
}

/** Largest vocabulary whose ids fit the dtype. */
function maxVocab(dtype: TokenDtypeCode): number {
  return 2 ** (8 * bytesPerToken(dtype));
}

/**
 * Parses and checks the header only. `bytes` may be just the first bytes of a file (at
 * least TOKEN_SHARD_HEADER_BYTES), so the payload length is not checked here; compare
 * `tokenShardByteLength(header)` with the file size for that.
 */
export function readTokenShardHeader(bytes: Uint8Array): TokenShardHeaderResult {
  if (bytes.length < TOKEN_SHARD_HEADER_BYTES) {
    return fail('ERR_SHARD_TRUNCATED', `${bytes.length} bytes, a header needs ${TOKEN_SHARD_HEADER_BYTES}`);
  }
  if (!hasMagic(bytes, TOKEN_SHARD_MAGIC)) return fail('ERR_SHARD_BAD_MAGIC', 'not a PLTK token shard');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(VERSION_OFFSET, true);
  if (version !== TOKEN_SHARD_VERSION) {
    return fail('ERR_SHARD_BAD_VERSION', `version ${version}, this reader knows ${TOKEN_SHARD_VERSION}`);
  }
  const headerLength = view.getUint32(HEADER_LENGTH_OFFSET, true);
  // A multiple of 4 keeps tokens aligned for a zero-copy typed-array view of either dtype.
  if (headerLength < TOKEN_SHARD_HEADER_BYTES || headerLength > MAX_HEADER_BYTES || headerLength % 4 !== 0) {
    return fail(
      'ERR_SHARD_BAD_HEADER',
      `header length ${headerLength} not a multiple of 4 in [${TOKEN_SHARD_HEADER_BYTES}, ${MAX_HEADER_BYTES}]`,
    );
  }
  // Reserved means zero: a reader that let other values through would give a later version no
  // field it could safely start using.
  if (view.getUint32(RESERVED_OFFSET, true) !== 0)
    return fail('ERR_SHARD_BAD_HEADER', 'the reserved field is not zero');
  const dtype = view.getUint32(DTYPE_OFFSET, true);
  if (!isSupportedDtype(dtype)) return fail('ERR_SHARD_BAD_DTYPE', `dtype code ${dtype} is not supported`);
  const vocabSize = view.getUint32(VOCAB_SIZE_OFFSET, true);
  if (vocabSize === 0 || vocabSize > maxVocab(dtype)) {
    return fail(
      'ERR_SHARD_BAD_VOCAB',
      `vocab size ${vocabSize} outside [1, ${maxVocab(dtype)}] for dtype ${dtype}`,
    );
  }
  const declared = view.getBigUint64(TOKEN_COUNT_OFFSET, true);
  if (declared > BigInt(MAX_SHARD_TOKENS)) {
    return fail('ERR_SHARD_TOO_LARGE', `declares ${declared} tokens, the cap is ${MAX_SHARD_TOKENS}`);
  }
  return { ok: true, header: { version, headerLength, dtype, vocabSize, tokenCount: Number(declared) } };
}

/** A token id at or past the vocabulary: its index among the decoded tokens, and the id. */
export interface TokenOutOfRange {
  readonly index: number;
  readonly id: number;
}

/**
 * Decodes little-endian token ids of `dtype` from `bytes` into `out` from `at`, as many as
 * `bytes` holds: the one place token bytes become ids (whole shards, a range of one fetched
 * over HTTP or read from disk, raw token files). Stops at the first id not below `vocabSize`.
 * DataView rather than a typed-array view: correct on any host byte order and for a `bytes`
 * that starts at an odd offset inside its buffer.
 */
export function decodeTokenIds(
  bytes: Uint8Array,
  dtype: TokenDtypeCode,
  out: Uint16Array | Uint32Array,
  at = 0,
  vocabSize = Number.POSITIVE_INFINITY,
): TokenOutOfRange | null {
  const width = bytesPerToken(dtype);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = Math.floor(bytes.byteLength / width);
  for (let i = 0; i < count; i++) {
    const id = width === 2 ? view.getUint16(i * width, true) : view.getUint32(i * width, true);
    if (id >= vocabSize) return { index: i, id };
    out[at + i] = id;
  }
  return null;
}

/** Parses a whole shard. Never throws; allocates only after every length check passed. */
export function decodeTokenShard(bytes: Uint8Array): TokenShardResult {
  const parsed = readTokenShardHeader(bytes);
  if (!parsed.ok) return parsed;
  const header = parsed.header;
  const expected = tokenShardByteLength(header);
  if (bytes.length < expected) {
    return fail('ERR_SHARD_TRUNCATED', `${bytes.length} bytes, header declares ${expected}`);
  }
  if (bytes.length > expected) {
    return fail('ERR_SHARD_TRAILING_BYTES', `${bytes.length} bytes, header declares ${expected}`);
  }
  const tokens = new Uint16Array(header.tokenCount);
  const body = bytes.subarray(header.headerLength, expected);
  const bad = decodeTokenIds(body, header.dtype, tokens, 0, header.vocabSize);
  if (bad)
    return fail(
      'ERR_SHARD_TOKEN_OUT_OF_RANGE',
      `token ${bad.index} is ${bad.id}, vocab size is ${header.vocabSize}`,
    );
  return { ok: true, shard: { header, tokens } };
}

/**
 * Writes a version-1 uint16 shard. Throws RangeError on bad arguments: the encoder only
 * ever sees our own tokenizer's output, so a bad id is a bug to surface, not input to refuse.
 */
export function encodeTokenShard(tokens: ArrayLike<number>, vocabSize: number): Uint8Array {
  const dtype = TokenDtype.uint16;
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > maxVocab(dtype)) {
    throw new RangeError(`vocab size ${vocabSize} outside [1, ${maxVocab(dtype)}]`);
  }
  if (tokens.length > MAX_SHARD_TOKENS) {
    throw new RangeError(`${tokens.length} tokens, a shard holds at most ${MAX_SHARD_TOKENS}`);
  }
  const bytes = new Uint8Array(TOKEN_SHARD_HEADER_BYTES + tokens.length * bytesPerToken(dtype));
  const view = new DataView(bytes.buffer);
  bytes.set(TOKEN_SHARD_MAGIC, MAGIC_OFFSET);
  view.setUint32(VERSION_OFFSET, TOKEN_SHARD_VERSION, true);
  view.setUint32(HEADER_LENGTH_OFFSET, TOKEN_SHARD_HEADER_BYTES, true);
  view.setUint32(DTYPE_OFFSET, dtype, true);
  view.setUint32(VOCAB_SIZE_OFFSET, vocabSize, true);
  view.setBigUint64(TOKEN_COUNT_OFFSET, BigInt(tokens.length), true);
  view.setUint32(RESERVED_OFFSET, 0, true);
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i] as number;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`token ${i} is ${id}, vocab size is ${vocabSize}`);
    }
    view.setUint16(TOKEN_SHARD_HEADER_BYTES + 2 * i, id, true);
  }
  return bytes;
}
