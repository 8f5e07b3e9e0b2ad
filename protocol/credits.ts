// Credits, as the leaderboard and the volunteer's pages show them (docs/ARCHITECTURE.md,
// "Credits"): one credit is a TFLOP of verified training work. The ledger keeps the exact
// FLOPs as integer text (they outgrow 2^53); credits are for display only.

/** FLOPs in one credit. */
export const FLOPS_PER_CREDIT = 1e12;

/** The credits `flops` (exact decimal integer text, as in a ledger entry) are worth. */
export function creditsOf(flops: string): number {
  return Number(BigInt(flops)) / FLOPS_PER_CREDIT;
}
