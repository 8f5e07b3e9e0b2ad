// Seating everyone (docs/ARCHITECTURE.md, "Everyone trains"): a round's members are split into
// ceil(n / cap) groups whose sizes differ by at most one, so no ready member is left out for a
// group being full, and no member keeps more than cap − 1 WebRTC links open. A group is who
// passes the round's aggregate pieces to whom, so groups are kept from round to round where
// membership allows: a member that stays keeps its links (set-up costs seconds in a browser),
// newcomers fill the smallest groups, and only an imbalance moves anyone. Who goes where among
// newcomers and movers is drawn at random, so no identity picks its group; nothing a group does
// is trusted anyway (every piece is checked against the relay's hash).

/**
 * The groups of `members`: each group a list of ids, sorted. `previous` is last round's groups
 * (members no longer present are dropped from them); `random` draws uniform [0, 1).
 */
export function regroup(
  previous: readonly (readonly string[])[],
  members: readonly string[],
  cap: number,
  random: () => number,
): string[][] {
  if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`group cap ${cap}`);
  if (members.length === 0) return [];
  const present = new Set(members);
  const count = Math.ceil(members.length / cap);
  const kept = previous
    .map((group) => group.filter((id) => present.has(id)))
    .filter((group) => group.length > 0)
    .sort((a, b) => b.length - a.length);
  const groups: string[][] = kept.slice(0, count);
  // Groups beyond the count are broken up; their members are seated like newcomers.
  const placed = new Set(groups.flat());
  while (groups.length < count) groups.push([]);
  const loose = shuffled(
    members.filter((id) => !placed.has(id)),
    random,
  );
  // The target sizes: n / count, the first n mod count groups one larger.
  const base = Math.floor(members.length / count);
  const larger = members.length % count;
  const target = (rank: number) => base + (rank < larger ? 1 : 0);
  // Largest groups keep the larger targets, so as few members move as possible.
  groups.sort((a, b) => b.length - a.length);
  for (const [rank, group] of groups.entries())
    while (group.length > target(rank)) {
      const [moved] = group.splice(Math.floor(random() * group.length), 1);
      loose.push(moved as string);
    }
  for (const [rank, group] of groups.entries())
    while (group.length < target(rank)) group.push(loose.pop() as string);
  return groups.map((group) => [...group].sort());
}

/** A uniformly random order of `items` (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Uniform [0, 1) from the platform's cryptographic generator: draws no identity can predict. */
export function cryptoRandom(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] as number) / 2 ** 32;
}
