// Raw token files: little-endian uint16 ids and nothing else, the format llm.c's early
// tinyshakespeare files and many quick experiments use. `npm run eval -- --tokens FILE`
// reads them. With no header there is nothing to check but the length (and, when the
// caller knows it, the vocabulary), so prefer token shards for anything kept.
import { readFile } from 'node:fs/promises';
import { decodeTokenIds, TokenDtype } from '../../protocol/token-shard.ts';
import { DatasetError } from './errors.ts';

export type RawTokensResult =
  | { readonly ok: true; readonly tokens: Uint16Array }
  | {
      readonly ok: false;
      readonly error: {
        readonly code: 'ERR_RAW_TOKENS_ODD_LENGTH' | 'ERR_RAW_TOKENS_OUT_OF_RANGE';
        readonly message: string;
      };
    };

/**
 * Decodes little-endian uint16 ids. Never throws. With `vocabSize`, ids >= it are refused,
 * so a file made with another tokenizer fails here rather than as garbage on the GPU.
 */
export function decodeRawTokens(bytes: Uint8Array, vocabSize?: number): RawTokensResult {
  if (bytes.length % 2 !== 0) {
    return {
      ok: false,
      error: {
        code: 'ERR_RAW_TOKENS_ODD_LENGTH',
        message: `${bytes.length} bytes is not whole uint16 tokens`,
      },
    };
  }
  const tokens = new Uint16Array(bytes.length / 2);
  const bad = decodeTokenIds(bytes, TokenDtype.uint16, tokens, 0, vocabSize);
  if (bad) {
    return {
      ok: false,
      error: {
        code: 'ERR_RAW_TOKENS_OUT_OF_RANGE',
        message: `token ${bad.index} is ${bad.id}, vocab size is ${vocabSize}`,
      },
    };
  }
  return { ok: true, tokens };
}

/** Reads a raw token file; throws DatasetError ERR_RAW_TOKENS_INVALID if it does not decode. */
export async function readRawTokens(path: string, vocabSize?: number): Promise<Uint16Array> {
  const decoded = decodeRawTokens(await readFile(path), vocabSize);
  if (!decoded.ok) throw new DatasetError('ERR_RAW_TOKENS_INVALID', `${path}: ${decoded.error.message}`);
  return decoded.tokens;
}
