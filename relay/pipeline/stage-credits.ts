// Credits for pipeline work: a volunteer earns the forward and backward FLOPs of its stage's
// layers (protocol/model-flops.ts) for every token it processed, so over all stages a
// microbatch earns exactly the whole model's training FLOPs, split by what each stage did.
//
// The counts come from the relay's own record: the microbatches it routed to a volunteer on a
// stage whose step committed (docs/ARCHITECTURE.md, "Credits"). A `stage-report`'s count is a
// claim and is never passed here. Work on a stage the volunteer was not seated on is refused,
// not credited.
// FLOPs are a bigint, as in relay/rounds/coordinator.ts's CreditLine: tokens × FLOPs per token
// passes 2^53 within a long run of a large model.

import type { GptConfig } from '../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../protocol/model-flops.ts';
import type { LayerRange } from '../../protocol/stage-layout.ts';

export interface StageWork {
  readonly stage: number;
  readonly volunteer: string;
  /** Microbatches the relay routed to this volunteer on this stage, in committed steps. */
  readonly microbatches: number;
}

export interface StageCreditLine {
  readonly stage: number;
  readonly volunteer: string;
  readonly tokens: number;
  /** Training FLOPs of the stage's layers (and head, on the last) for those tokens. */
  readonly flops: bigint;
}

export type CreditErrorCode = 'ERR_CREDIT_STAGE' | 'ERR_CREDIT_NOT_ASSIGNED' | 'ERR_CREDIT_MICROBATCHES';

export interface RefusedWork {
  readonly work: StageWork;
  readonly code: CreditErrorCode;
  readonly message: string;
}

export interface StageCredits {
  readonly lines: readonly StageCreditLine[];
  readonly refused: readonly RefusedWork[];
  /** Sum of the lines' FLOPs per stage. */
  readonly perStage: readonly bigint[];
}

/** What credits need of a seating: the model, the microbatch shape, each stage's layers and members. */
export interface CreditedPlan {
  readonly model: GptConfig;
  readonly options: { readonly B: number; readonly T: number };
  readonly stages: readonly {
    readonly stage: number;
    readonly layers: LayerRange;
    readonly members: readonly { readonly id: string }[];
  }[];
}

export function stageCredits(plan: CreditedPlan, work: readonly StageWork[]): StageCredits {
  const { B, T } = plan.options;
  const S = plan.stages.length;
  const perToken = plan.stages.map((st) =>
    BigInt(stageFlopsPerToken(plan.model, { layers: st.layers, isLast: st.stage === S - 1 }, T).training),
  );
  const lines: StageCreditLine[] = [];
  const refused: RefusedWork[] = [];
  const perStage = new Array<bigint>(S).fill(0n);
  for (const w of work) {
    const refuse = (code: CreditErrorCode, message: string) => refused.push({ work: w, code, message });
    const stage = plan.stages[w.stage];
    if (!Number.isInteger(w.stage) || !stage) {
      refuse('ERR_CREDIT_STAGE', `stage ${w.stage} is not in [0, ${S})`);
      continue;
    }
    if (!stage.members.some((m) => m.id === w.volunteer)) {
      refuse('ERR_CREDIT_NOT_ASSIGNED', `${w.volunteer} was not assigned to stage ${w.stage}`);
      continue;
    }
    const tokens = w.microbatches * B * T;
    if (!(Number.isInteger(w.microbatches) && w.microbatches >= 0 && Number.isSafeInteger(tokens))) {
      refuse('ERR_CREDIT_MICROBATCHES', `microbatches must be a whole count, got ${w.microbatches}`);
      continue;
    }
    const flops = BigInt(tokens) * (perToken[w.stage] as bigint);
    lines.push({ stage: w.stage, volunteer: w.volunteer, tokens, flops });
    perStage[w.stage] = (perStage[w.stage] as bigint) + flops;
  }
  return { lines, refused, perStage };
}
