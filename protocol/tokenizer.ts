// Tokenizers turn text into the integer ids the model trains on. Every side (relay prepare
// step, browser worker, headless volunteer, eval command) must agree on one, so the data
// set's manifest names it and `tokenizerByName` resolves that name back to code.

/** A reversible text <-> token-id mapping. Ids are in [0, vocabSize). */
export interface Tokenizer {
  /** Stable name written into dataset manifests and run configs. */
  readonly name: string;
  /** Number of distinct ids; the model's embedding table has this many rows. */
  readonly vocabSize: number;
  /** Text to ids. Every id fits in 16 bits while vocabSize <= 65536 (GPT-2's 50257 does). */
  encode(text: string): Uint16Array;
  /**
   * Ids to text. Never throws: ids outside [0, vocabSize) and byte runs that are not valid
   * UTF-8 come out as U+FFFD, so a model's raw samples can always be shown.
   */
  decode(tokens: ArrayLike<number>): string;
}

/** Names `tokenizerByName` knows. A BPE tokenizer joins this union when it lands. */
export type TokenizerName = 'byte';

export type TokenizerLookup =
  | { readonly ok: true; readonly tokenizer: Tokenizer }
  | {
      readonly ok: false;
      readonly error: { readonly code: 'ERR_UNKNOWN_TOKENIZER'; readonly message: string };
    };

const utf8Encoder = new TextEncoder();
// `ignoreBOM: true` keeps a leading U+FEFF in the output: the default decoder silently drops
// it, which would break encode/decode round trips of text that starts with a BOM.
// `fatal: false` (the default) substitutes U+FFFD for malformed bytes instead of throwing.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of U+FFFD, written in place of ids that are not bytes. */
const REPLACEMENT_BYTES = [0xef, 0xbf, 0xbd] as const;

function isByte(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < 256;
}

/**
 * One token per UTF-8 byte (vocab 256), as in Karpathy's byte-level experiments: no
 * training, no merges file, and any text round-trips exactly. The price is long sequences.
 */
export const byteTokenizer: Tokenizer = {
  name: 'byte',
  vocabSize: 256,
  encode(text: string): Uint16Array {
    const bytes = utf8Encoder.encode(text);
    return Uint16Array.from(bytes);
  },
  decode(tokens: ArrayLike<number>): string {
    let invalid = 0;
    for (let i = 0; i < tokens.length; i++) if (!isByte(tokens[i] as number)) invalid++;
    const bytes = new Uint8Array(tokens.length + invalid * (REPLACEMENT_BYTES.length - 1));
    let at = 0;
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i] as number;
      if (isByte(id)) {
        bytes[at++] = id;
      } else {
        bytes.set(REPLACEMENT_BYTES, at);
        at += REPLACEMENT_BYTES.length;
      }
    }
    return utf8Decoder.decode(bytes);
  },
};

const TOKENIZERS: Readonly<Record<TokenizerName, Tokenizer>> = {
  byte: byteTokenizer,
};

/** Resolves a manifest's or config's tokenizer name; unknown names are a typed error. */
export function tokenizerByName(name: string): TokenizerLookup {
  if (Object.hasOwn(TOKENIZERS, name)) {
    return { ok: true, tokenizer: TOKENIZERS[name as TokenizerName] };
  }
  const known = Object.keys(TOKENIZERS).join(', ');
  return {
    ok: false,
    error: { code: 'ERR_UNKNOWN_TOKENIZER', message: `unknown tokenizer "${name}" (known: ${known})` },
  };
}
