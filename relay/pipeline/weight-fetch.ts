// What a volunteer must download when it takes a stage it does not fully hold, and from whom.
// A stage's state is its layers plus, on the first stage, the token and position embeddings
// (wte, wpe) and, on the last, the final LayerNorm and its copy of wte for the tied head
// (protocol/stage-layout.ts). Any live peer of the old plan holding a part can serve it;
// wte is held by the first stage (its owner) and by the last (a copy kept bit-identical after
// every step). A part no live peer holds comes from the relay's last checkpoint, and the
// progress made on it since then is lost: the pipeline must resume from that checkpoint.
import type { LayerRange } from '../../protocol/stage-layout.ts';
import type { StagePlan } from './stage-plan.ts';

export type WeightFetch =
  | {
      readonly part: 'layers';
      readonly layers: LayerRange;
      /** The stage of the old plan that held these layers. */
      readonly fromStage: number;
      /** Live peers holding the part, fastest first; empty: the relay's checkpoint. */
      readonly peers: readonly string[];
    }
  | { readonly part: 'wte' | 'wpe' | 'final-norm'; readonly peers: readonly string[] };

/** A stage position: which layers, and whether it is the first and the last. */
export interface StagePosition {
  readonly layers: LayerRange;
  readonly isFirst: boolean;
  readonly isLast: boolean;
}

export function positionOf(plan: StagePlan, stage: number): StagePosition {
  const st = plan.stages[stage];
  if (!st) throw new RangeError(`stage ${stage} is not in [0, ${plan.stages.length})`);
  return { layers: st.layers, isFirst: stage === 0, isLast: stage === plan.stages.length - 1 };
}

const holdsWte = (p: StagePosition) => p.isFirst || p.isLast;

/**
 * Fetches for a volunteer that held `held` (null: nothing) in `old` and now takes `wanted`.
 * `gone` are peers no longer reachable; the volunteer itself is never its own source.
 */
export function weightFetches(
  old: StagePlan,
  held: StagePosition | null,
  wanted: StagePosition,
  volunteer: string,
  gone: ReadonlySet<string>,
): WeightFetch[] {
  const live = (stage: number) =>
    (old.stages[stage]?.members ?? []).map((m) => m.id).filter((id) => id !== volunteer && !gone.has(id));
  const last = old.stages.length - 1;
  const fetches: WeightFetch[] = [];
  for (const range of subtract(wanted.layers, held?.layers ?? null)) {
    for (const st of old.stages) {
      const start = Math.max(range.start, st.layers.start);
      const end = Math.min(range.end, st.layers.end);
      if (start < end)
        fetches.push({ part: 'layers', layers: { start, end }, fromStage: st.stage, peers: live(st.stage) });
    }
  }
  if (holdsWte(wanted) && !(held && holdsWte(held)))
    fetches.push({ part: 'wte', peers: [...new Set([...live(0), ...live(last)])] });
  if (wanted.isFirst && !held?.isFirst) fetches.push({ part: 'wpe', peers: live(0) });
  if (wanted.isLast && !held?.isLast) fetches.push({ part: 'final-norm', peers: live(last) });
  return fetches;
}

/** `range` less `minus`: zero, one or two ranges. */
function subtract(range: LayerRange, minus: LayerRange | null): LayerRange[] {
  if (!minus || minus.end <= range.start || minus.start >= range.end) return [range];
  const out: LayerRange[] = [];
  if (range.start < minus.start) out.push({ start: range.start, end: minus.start });
  if (minus.end < range.end) out.push({ start: minus.end, end: range.end });
  return out;
}
