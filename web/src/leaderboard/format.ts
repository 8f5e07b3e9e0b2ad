// How the leaderboard writes its numbers. Test runs credit tiny amounts (a 1-layer model earns
// about 1e-4 TFLOP a round), so a lone credit keeps 3 significant digits at any scale instead of
// a fixed number of decimals that would print it as 0.000. A column of credits instead shares
// one number of decimals, enough for its smallest credit, so cells line up and "0.19" never
// sits beside "0.195" (issue 17).

/** Significant digits a credit keeps: alone, or the smallest one in a column. */
const CREDIT_DIGITS = 3;
/** A column's decimals stop here: 1e-6 TFLOP is 1 MFLOP, less than any training step costs. */
const MAX_CREDIT_DECIMALS = 6;

const threeDigits = new Intl.NumberFormat('en', {
  minimumSignificantDigits: CREDIT_DIGITS, // keeps trailing zeros: 0.190, not 0.19
  maximumSignificantDigits: CREDIT_DIGITS,
});
const grouped = new Intl.NumberFormat('en');
/** One formatter per count of decimals, from 0 to MAX_CREDIT_DECIMALS. */
const fixedDecimals = Array.from(
  { length: MAX_CREDIT_DECIMALS + 1 },
  (_, decimals) =>
    new Intl.NumberFormat('en', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
);

/** TFLOP to 3 significant digits: `2.03e-4` below 0.01, `0.0512`, `0.190`, `12.3`, `45,600` above. */
export function formatCredits(tflop: number): string {
  if (tflop === 0) return '0';
  if (Math.abs(tflop) < 0.01) return tflop.toExponential(CREDIT_DIGITS - 1);
  return threeDigits.format(tflop);
}

/**
 * How many decimals a column of credits (TFLOP) shows: enough for its smallest nonzero credit
 * to keep 3 significant digits (0.195 needs 3, 2.03e-4 needs 6), at most 6, and none for a
 * column of credits of 100 or more. Zeros say nothing about the scale, so they are skipped.
 */
export function creditDecimals(column: readonly number[]): number {
  let smallest = Number.POSITIVE_INFINITY;
  for (const tflop of column) if (tflop !== 0) smallest = Math.min(smallest, Math.abs(tflop));
  if (!Number.isFinite(smallest)) return 0;
  const leadingDigit = Math.floor(Math.log10(smallest)); // 0.195 -> -1, 45,600 -> 4
  return Math.min(MAX_CREDIT_DECIMALS, Math.max(0, CREDIT_DIGITS - 1 - leadingDigit));
}

/** TFLOP with exactly `decimals` decimals (0 to 6), grouped: `0.190`, `45,600.000`. */
export function formatCreditsFixed(tflop: number, decimals: number): string {
  const format = fixedDecimals[Math.min(MAX_CREDIT_DECIMALS, Math.max(0, Math.round(decimals)))];
  if (!format) throw new Error(`no formatter for ${decimals} decimals`); // unreachable: clamped above
  return format.format(tflop);
}

export function formatTokens(tokens: number): string {
  return grouped.format(tokens);
}

/** A duration as `45 s`, `2 m 05 s`, `3 h 02 m 05 s`; whole seconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (hours > 0) return `${hours} h ${two(minutes)} m ${two(seconds)} s`;
  if (minutes > 0) return `${minutes} m ${two(seconds)} s`;
  return `${seconds} s`;
}

/**
 * How long ago `thenMs` was, as `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. A time a little
 * in the future (the relay's clock ahead of this one) reads as `0 s ago`.
 */
export function formatAgo(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** A public key short enough for a table cell; the full key goes in the cell's title. */
export function shortKey(publicKey: string): string {
  return `${publicKey.slice(0, 10)}…`;
}

/** A SHA-256 hex hash short enough to read aloud and still tell two apart. */
export function shortHash(hash: string): string {
  return `${hash.slice(0, 16)}…`;
}
