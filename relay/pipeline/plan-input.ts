// What the stage planner is given, checked before any arithmetic: the numbers come from peers'
// `capabilities` messages (protocol/swarm-messages.ts), which valibot only checks to be finite
// and non-negative. A value that is negative, NaN or absurd is refused with a stable code
//, never thrown. One bad volunteer is set aside on its own, so a hostile
// peer cannot stop the relay from planning for everyone else; bad options or a bad model refuse
// the whole plan, since they come from the operator and nothing sensible can be planned.
import { type GptConfig, validateConfig } from '../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../protocol/model-flops.ts';

/** A volunteer as the relay measured it. Give exactly one of flopsPerSec and tokensPerSec. */
export interface VolunteerInput {
  readonly id: string;
  /** Bytes of GPU memory the volunteer is willing to use (Capabilities.memoryBytes). */
  readonly memoryBytes: number;
  /** Measured training throughput in FLOP/s. */
  readonly flopsPerSec?: number;
  /** Training tokens per second measured on this run's whole model (Capabilities.tokensPerSec). */
  readonly tokensPerSec?: number;
  readonly uplinkBytesPerSec: number;
}

/** A volunteer after validation: throughput always in FLOP/s. */
export interface Volunteer {
  readonly id: string;
  readonly memoryBytes: number;
  readonly flopsPerSec: number;
  readonly uplinkBytesPerSec: number;
}

export interface PlanOptions {
  /** Pipeline stages, or 'auto' to choose the count with the fastest step. */
  readonly stages: number | 'auto';
  /** One microbatch: B sequences of T tokens. */
  readonly microbatch: { readonly B: number; readonly T: number };
  /**
   * Bytes per parameter a stage owns. 24 by default, what kernels/pipeline/gpu-stage.ts allocates:
   * fp32 weights, gradients, microbatch gradients, gradients before accumulation, AdamW m and v.
   */
  readonly stateBytesPerParam?: number;
  /** Bytes per parameter of the last stage's copy of wte: 16, the same buffers without AdamW. */
  readonly copyBytesPerParam?: number;
  /** Microbatches per optimizer step (M): caps the activations in flight and prices the bubble. */
  readonly microbatches?: number;
  /** Bytes left free on every volunteer (activation codecs, the browser's own use). */
  readonly reserveBytes?: number;
  /** Leaves of the exhaustive search allowed before the heuristic takes over; 0 forces it. */
  readonly exactBudget?: number;
}

export interface ResolvedOptions {
  readonly stages: number | 'auto';
  readonly B: number;
  readonly T: number;
  readonly stateBytesPerParam: number;
  readonly copyBytesPerParam: number;
  readonly microbatches: number | null;
  readonly reserveBytes: number;
  readonly exactBudget: number;
}

export type VolunteerErrorCode =
  | 'ERR_VOLUNTEER_ID'
  | 'ERR_VOLUNTEER_DUPLICATE'
  | 'ERR_VOLUNTEER_MEMORY'
  | 'ERR_VOLUNTEER_SPEED'
  | 'ERR_VOLUNTEER_UPLINK';

/** A volunteer set aside before planning. `id` is null when the id itself was unusable. */
export interface RejectedVolunteer {
  readonly index: number;
  readonly id: string | null;
  readonly code: VolunteerErrorCode;
  readonly message: string;
}

export type PlanRefusal =
  | { readonly ok: false; readonly code: 'ERR_PLAN_MODEL'; readonly message: string }
  | {
      readonly ok: false;
      readonly code: 'ERR_PLAN_OPTIONS';
      readonly message: string;
      readonly field: string;
    }
  | { readonly ok: false; readonly code: 'ERR_PLAN_TOO_MANY_VOLUNTEERS'; readonly message: string }
  | {
      readonly ok: false;
      readonly code: 'ERR_PLAN_TOO_FEW_VOLUNTEERS';
      readonly message: string;
      /** Stages the model needs (or was asked for) and volunteers that could take one. */
      readonly stages: number;
      readonly volunteers: number;
    }
  | {
      readonly ok: false;
      readonly code: 'ERR_PLAN_MEMORY';
      readonly message: string;
      readonly stages: number;
      /** With the split needing the least memory: enough, though another split may need less. */
      readonly shortBytes: number;
      /** How many volunteers need those bytes more. */
      readonly volunteersShort: number;
    };

export type PlanErrorCode = PlanRefusal['code'];

// Caps on what the planner accepts. They bound its work and catch units mixed up (bits for
// bytes, FLOP/s for TFLOP/s) far above any real device, not reject plausible hardware.
/** Volunteers per plan: the search is O(n·S) per pass; 10 000 runs in about a second. */
export const MAX_PLAN_VOLUNTEERS = 10_000;
export const MAX_VOLUNTEER_ID_LENGTH = 128;
/** 16 TiB of GPU memory on one volunteer. */
export const MAX_MEMORY_BYTES = 2 ** 44;
/** 10 PFLOP/s on one volunteer, several times an H200's dense fp8 peak. */
export const MAX_FLOPS_PER_SEC = 1e16;
export const MAX_TOKENS_PER_SEC = 1e9;
/** 1 TB/s of uplink. */
export const MAX_UPLINK_BYTES_PER_SEC = 1e12;
/**
 * Model shape caps: keep the planner's tables small and every byte count exact in a double.
 * 'auto' on 256 layers and 1000 volunteers takes a few seconds; 48 layers, under one.
 */
export const MAX_LAYERS = 256;
export const MAX_VOCAB = 2 ** 20;
export const MAX_DMODEL = 2 ** 16;
export const MAX_CONTEXT = 2 ** 20;
export const MAX_MICROBATCH_SEQUENCES = 2 ** 12;
export const MAX_MICROBATCHES = 2 ** 20;
export const MAX_STATE_BYTES_PER_PARAM = 64;
/** Past this the exhaustive search would take seconds. */
export const MAX_EXACT_BUDGET = 10_000_000;
/** Leaves the exhaustive search may visit by default: a few milliseconds. */
export const DEFAULT_EXACT_BUDGET = 200_000;

const isCount = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
const isAmount = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;

/** The model, or a refusal: validateConfig's RangeError becomes a code, and absurd sizes are capped. */
export function checkModel(model: GptConfig): PlanRefusal | null {
  const refuse = (message: string): PlanRefusal => ({ ok: false, code: 'ERR_PLAN_MODEL', message });
  if (typeof model !== 'object' || model === null) return refuse('the model config is missing');
  const caps: Array<[keyof GptConfig, number]> = [
    ['nLayer', MAX_LAYERS],
    ['vocabSize', MAX_VOCAB],
    ['dModel', MAX_DMODEL],
    ['contextLength', MAX_CONTEXT],
    ['nHead', MAX_DMODEL],
  ];
  for (const [name, max] of caps)
    if (!isCount(model[name], max)) return refuse(`${name} must be an integer in [1, ${max}]`);
  try {
    validateConfig(model);
  } catch (error) {
    // validateConfig reports shape rules (dModel a multiple of nHead and of 4) by throwing.
    return refuse(error instanceof Error ? error.message : String(error));
  }
  return null;
}

export function resolveOptions(model: GptConfig, options: PlanOptions): ResolvedOptions | PlanRefusal {
  const refuse = (field: string, message: string): PlanRefusal => ({
    ok: false,
    code: 'ERR_PLAN_OPTIONS',
    message,
    field,
  });
  if (typeof options !== 'object' || options === null) return refuse('options', 'options are missing');
  const { stages, microbatch } = options;
  if (stages !== 'auto' && !isCount(stages, model.nLayer))
    return refuse('stages', `stages must be 'auto' or an integer in [1, ${model.nLayer}] (one layer each)`);
  if (typeof microbatch !== 'object' || microbatch === null)
    return refuse('microbatch', 'microbatch {B, T} is missing');
  if (!isCount(microbatch.B, MAX_MICROBATCH_SEQUENCES))
    return refuse('microbatch.B', `B must be an integer in [1, ${MAX_MICROBATCH_SEQUENCES}]`);
  if (!isCount(microbatch.T, model.contextLength))
    return refuse('microbatch.T', `T must be an integer in [1, ${model.contextLength}]`);
  const amounts: Array<[string, unknown, number, number]> = [
    ['stateBytesPerParam', options.stateBytesPerParam, 24, MAX_STATE_BYTES_PER_PARAM],
    ['copyBytesPerParam', options.copyBytesPerParam, 16, MAX_STATE_BYTES_PER_PARAM],
    ['reserveBytes', options.reserveBytes, 0, MAX_MEMORY_BYTES],
    ['exactBudget', options.exactBudget, DEFAULT_EXACT_BUDGET, MAX_EXACT_BUDGET],
  ];
  const values = new Map<string, number>();
  for (const [field, value, fallback, max] of amounts) {
    if (value !== undefined && !isAmount(value, max)) return refuse(field, `${field} must be in [0, ${max}]`);
    values.set(field, value ?? fallback);
  }
  const { microbatches } = options;
  if (microbatches !== undefined && !isCount(microbatches, MAX_MICROBATCHES))
    return refuse('microbatches', `microbatches must be an integer in [1, ${MAX_MICROBATCHES}]`);
  const get = (field: string) => values.get(field) as number;
  return {
    stages,
    B: microbatch.B,
    T: microbatch.T,
    stateBytesPerParam: get('stateBytesPerParam'),
    copyBytesPerParam: get('copyBytesPerParam'),
    microbatches: microbatches ?? null,
    reserveBytes: get('reserveBytes'),
    exactBudget: Math.floor(get('exactBudget')),
  };
}

/**
 * Splits the list into usable volunteers and rejected ones. tokensPerSec, measured on this
 * run's whole model, becomes FLOP/s through the model's training FLOPs per token at T, the
 * convention protocol/model-flops.ts credits by. A throughput of 0 means "not measured yet": such a
 * volunteer cannot be balanced, so it waits (sizing.ts guesses the median instead, which a
 * pipeline cannot afford: one slow stage slows every stage).
 */
export function checkVolunteers(
  model: GptConfig,
  T: number,
  volunteers: readonly VolunteerInput[],
): { readonly usable: Volunteer[]; readonly rejected: RejectedVolunteer[] } {
  const { training } = stageFlopsPerToken(
    model,
    { layers: { start: 0, end: model.nLayer }, isLast: true },
    T,
  );
  const usable: Volunteer[] = [];
  const rejected: RejectedVolunteer[] = [];
  const seen = new Set<string>();
  volunteers.forEach((input: unknown, index) => {
    const v = (typeof input === 'object' && input !== null ? input : {}) as Partial<Record<string, unknown>>;
    const id =
      typeof v.id === 'string' && v.id.length > 0 && v.id.length <= MAX_VOLUNTEER_ID_LENGTH ? v.id : null;
    const checked = checkVolunteer(v, id, seen, training);
    if ('code' in checked) rejected.push({ index, id, ...checked });
    else usable.push(checked);
    if (id !== null) seen.add(id);
  });
  return { usable, rejected };
}

function checkVolunteer(
  v: Partial<Record<string, unknown>>,
  id: string | null,
  seen: ReadonlySet<string>,
  modelFlopsPerToken: number,
): Volunteer | { code: VolunteerErrorCode; message: string } {
  const reject = (code: VolunteerErrorCode, message: string) => ({ code, message });
  if (id === null)
    return reject('ERR_VOLUNTEER_ID', `id must be a string of 1 to ${MAX_VOLUNTEER_ID_LENGTH}`);
  if (seen.has(id)) return reject('ERR_VOLUNTEER_DUPLICATE', `${id} is listed twice`);
  if (!isAmount(v.memoryBytes, MAX_MEMORY_BYTES))
    return reject('ERR_VOLUNTEER_MEMORY', `memoryBytes must be in [0, ${MAX_MEMORY_BYTES}]`);
  if (!isAmount(v.uplinkBytesPerSec, MAX_UPLINK_BYTES_PER_SEC))
    return reject('ERR_VOLUNTEER_UPLINK', `uplinkBytesPerSec must be in [0, ${MAX_UPLINK_BYTES_PER_SEC}]`);
  const hasFlops = v.flopsPerSec !== undefined;
  if (hasFlops === (v.tokensPerSec !== undefined))
    return reject('ERR_VOLUNTEER_SPEED', 'give exactly one of flopsPerSec and tokensPerSec');
  const [value, max] = hasFlops ? [v.flopsPerSec, MAX_FLOPS_PER_SEC] : [v.tokensPerSec, MAX_TOKENS_PER_SEC];
  if (!isAmount(value, max) || value === 0)
    return reject('ERR_VOLUNTEER_SPEED', `measured throughput must be in (0, ${max}]`);
  const flopsPerSec = hasFlops ? value : value * modelFlopsPerToken;
  if (flopsPerSec > MAX_FLOPS_PER_SEC)
    return reject(
      'ERR_VOLUNTEER_SPEED',
      `${value} tokens/s is over ${MAX_FLOPS_PER_SEC} FLOP/s on this model`,
    );
  return { id, memoryBytes: v.memoryBytes, flopsPerSec, uplinkBytesPerSec: v.uplinkBytesPerSec };
}
