// HTTP range requests (RFC 9110 §14) for token shards: a volunteer resuming a download asks
// for the bytes it lacks. Only one range per request; multipart ranges are answered whole.

export type RangeAnswer =
  | { readonly kind: 'whole' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number } // end inclusive
  | { readonly kind: 'unsatisfiable' };

/** Reads a `Range` header against a body of `size` bytes; never throws. */
export function parseByteRange(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'whole' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return { kind: 'whole' }; // unknown units or several ranges: ignore (§14.2)
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // A suffix: the last N bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(size - 1, Number(last));
  if (end < start) return { kind: 'whole' };
  return { kind: 'partial', start, end };
}
