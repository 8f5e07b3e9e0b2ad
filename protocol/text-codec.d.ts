// The WHATWG Encoding API, declared by hand because protocol/ compiles against bare ES2022
// (no DOM, no Node types), yet browsers, Web Workers and Node >= 11 all ship TextEncoder
// and TextDecoder as globals. Only the members protocol/ uses are declared. Projects that
// already have DOM or Node types never see this file: it is pulled in by protocol's own
// tsconfig `include`, not by a `/// <reference>` that would collide with theirs.
// Spec: https://encoding.spec.whatwg.org/#interface-textdecoder

interface TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
}

declare var TextEncoder: {
  prototype: TextEncoder;
  new (): TextEncoder;
};

interface TextDecoderOptions {
  /** Throw on malformed input instead of substituting U+FFFD. */
  fatal?: boolean;
  /** Keep a leading byte-order mark as U+FEFF instead of dropping it. */
  ignoreBOM?: boolean;
}

interface TextDecoder {
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}

declare var TextDecoder: {
  prototype: TextDecoder;
  new (label?: string, options?: TextDecoderOptions): TextDecoder;
};
