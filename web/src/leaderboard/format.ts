// How the leaderboard writes its numbers. Test runs credit tiny amounts (a 1-layer model earns
// about 1e-4 TFLOP a round), so credits keep 3 significant digits at any scale instead of a
// fixed number of decimals that would print them all as 0.000.

const threeDigits = new Intl.NumberFormat('en', { maximumSignificantDigits: 3 });
const grouped = new Intl.NumberFormat('en');

/** TFLOP to 3 significant digits: `2.03e-4` below 0.01, `0.0512`, `12.3`, `45,600` above. */
export function formatCredits(tflop: number): string {
  if (tflop === 0) return '0';
  if (Math.abs(tflop) < 0.01) return tflop.toExponential(2);
  return threeDigits.format(tflop);
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
