// Start-up autotune for the matmul kernels: time each candidate configuration on the model's
// real shapes, keep the fastest per shape class, and remember the choice per adapter so the next
// start skips the timing. The cache is passed in: IndexedDB in the browser worker
// (tune-cache-idb.ts), a JSON file in Node (../node/tune-cache-file.ts), memory in tests.
//
// On real GPUs the choice is made per shape class, the transpose combination (NN, NT, TN, TT):
// the model's GEMMs of one class differ mostly in size, so one representative per class (the one
// with the most work) is timed. On software adapters one choice covers every class: there the
// same configuration won for every orientation, and compiling is the expensive part (about
// 0.3 s per big-block pipeline on SwiftShader), so timing fewer pipelines keeps start-up to a
// second or two. Timing is wall clock around submit and onSubmittedWorkDone: coarse, but the
// candidates differ by tens of percent.
import { gemmDispatch, vec4Compatible } from '../ops/matmul.ts';
import {
  candidatesFor,
  defaultTuning,
  MATMUL_KERNEL_VERSION,
  type MatmulTuner,
  type MatmulTuning,
  tuningName,
  tuningProblem,
} from '../ops/matmul-tuning.ts';
import type { GemmShape } from '../reference/gemm.ts';
import type { Dispatch, GpuContext } from './context.ts';

/** Where choices persist between start-ups (idb-keyval's get/set, narrowed to strings). */
export interface TuneCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface AutotuneOptions {
  readonly cache: TuneCache;
  /** Configurations to time; default: candidatesFor(ctx) (differs for software adapters). */
  readonly candidates?: readonly MatmulTuning[];
  /** One choice per shape class, or one for all; default: 'overall' on software adapters. */
  readonly granularity?: 'class' | 'overall';
  /** Milliseconds of work per timed sample; small GEMMs repeat up to 32 dispatches to reach it. */
  readonly sampleMs?: number;
  /** Clock in milliseconds; performance.now by default. */
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export interface AutotuneResult extends MatmulTuner {
  /** The choice per shape class (`NN`, `NT`, `TN`, `TT`), or under `ALL` for one overall. */
  readonly choices: ReadonlyMap<string, MatmulTuning>;
  /** Candidate measurements taken; 0 when every class came from the cache. */
  readonly measured: number;
}

/** `NN`, `NT`, `TN` or `TT`: which operands are stored transposed. */
export function shapeClass(shape: GemmShape): string {
  return `${shape.transA ? 'T' : 'N'}${shape.transB ? 'T' : 'N'}`;
}

/** Cache key: kernel version, adapter identity, group (class or ALL) and representative shape. */
export function tuneKey(ctx: GpuContext, group: string, shape: GemmShape): string {
  const { vendor, architecture, description } = ctx.adapter;
  const dims = `${shapeClass(shape)} ${shape.M}x${shape.K}x${shape.N}`;
  return `matmul-v${MATMUL_KERNEL_VERSION}|${vendor}|${architecture}|${description}|${group}|${dims}`;
}

export async function autotuneMatmul(
  ctx: GpuContext,
  shapes: readonly GemmShape[],
  options: AutotuneOptions,
): Promise<AutotuneResult> {
  const { cache, now = defaultClock, log } = options;
  const candidates = (options.candidates ?? candidatesFor(ctx)).filter(
    (t) => tuningProblem(t, ctx.device.limits) === null,
  );
  const fallback = defaultTuning(ctx.adapter);
  const overall = (options.granularity ?? (ctx.adapter.isSoftware ? 'overall' : 'class')) === 'overall';
  const groupOf = (shape: GemmShape) => (overall ? 'ALL' : shapeClass(shape));
  const choices = new Map<string, MatmulTuning>();
  let measured = 0;

  // Shapes the vec4 kernels cannot run use the scalar fallback whatever is chosen: skip them.
  const representative = new Map<string, GemmShape>();
  for (const shape of shapes) {
    if (!vec4Compatible(shape)) continue;
    const group = groupOf(shape);
    const current = representative.get(group);
    if (!current || flops(shape) > flops(current)) representative.set(group, shape);
  }

  for (const [group, shape] of representative) {
    const key = tuneKey(ctx, group, shape);
    const cached = parseTuning(await cache.get(key), candidates, ctx);
    if (cached) {
      choices.set(group, cached);
      log?.(`autotune ${group}: ${tuningName(cached)} (cached)`);
      continue;
    }
    if (candidates.length === 0) {
      choices.set(group, fallback);
      continue;
    }
    const timing = await timeCandidates(ctx, shape, candidates, options.sampleMs ?? 20, now);
    if (!timing) {
      choices.set(group, fallback);
      log?.(`autotune ${group}: every candidate failed, using ${tuningName(fallback)}`);
      continue;
    }
    measured += timing.measured;
    choices.set(group, timing.best);
    await cache.set(key, JSON.stringify(timing.best));
    log?.(`autotune ${group} ${shape.M}x${shape.K}x${shape.N}: ${timing.report}`);
  }

  return {
    choices,
    measured,
    pick: (shape) => choices.get(groupOf(shape)) ?? fallback,
  };
}

const flops = (s: GemmShape) => s.M * s.N * s.K;

const defaultClock = (): number => performance.now();

/** A cached choice, if it is well formed and still one of the candidates. */
function parseTuning(
  text: string | undefined,
  candidates: readonly MatmulTuning[],
  ctx: GpuContext,
): MatmulTuning | null {
  if (text === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null; // a corrupt entry just means timing again
  }
  if (typeof value !== 'object' || value === null) return null;
  const t = value as MatmulTuning;
  const match = candidates.find((c) => tuningName(c) === tuningName(t));
  return match && tuningProblem(match, ctx.device.limits) === null ? match : null;
}

interface Timing {
  best: MatmulTuning;
  measured: number;
  report: string;
}

interface Run {
  readonly t: MatmulTuning;
  readonly dispatch: Dispatch;
  repeat: number;
  ms: number;
}

/**
 * Successive halving: one sample of every candidate, then a second sample of the best two, so a
 * hiccup from another process rarely decides. A candidate the driver rejects (a compile or
 * validation error) is dropped. Inputs are zeros: speed does not depend on values. Null when
 * every candidate failed.
 */
async function timeCandidates(
  ctx: GpuContext,
  shape: GemmShape,
  candidates: readonly MatmulTuning[],
  sampleMs: number,
  now: () => number,
): Promise<Timing | null> {
  const { M, N, K } = shape;
  const a = ctx.createStorage('autotune:a', M * K * 4);
  const b = ctx.createStorage('autotune:b', K * N * 4);
  const out = ctx.createStorage('autotune:out', M * N * 4);
  let measured = 0;
  const sample = async (run: Run) => {
    const start = now();
    ctx.run(Array(run.repeat).fill(run.dispatch), 'autotune');
    await ctx.sync();
    run.ms = Math.min(run.ms, (now() - start) / run.repeat);
    measured++;
  };
  try {
    const runs: Run[] = [];
    for (const t of candidates) {
      // Compiles the pipeline and runs it once (warm-up), inside error scopes so that a driver
      // that cannot build one configuration costs only that candidate.
      ctx.device.pushErrorScope('internal');
      ctx.device.pushErrorScope('validation');
      const dispatch = gemmDispatch(ctx, { ...shape, accumulate: false, out, a, b, label: 'autotune' }, t);
      const start = now();
      ctx.run([dispatch], 'autotune');
      const errors = [await ctx.device.popErrorScope(), await ctx.device.popErrorScope()];
      if (errors.some((e) => e !== null)) continue;
      await ctx.sync();
      // Small GEMMs repeat so that a sample is about sampleMs of work, not submit latency.
      const repeat = Math.min(32, Math.max(1, Math.round(sampleMs / Math.max(now() - start, 0.01))));
      const run = { t, dispatch, repeat, ms: Number.POSITIVE_INFINITY };
      await sample(run);
      runs.push(run);
    }
    const ranked = runs.sort((x, y) => x.ms - y.ms);
    for (const run of ranked.slice(0, 2)) await sample(run);
    ranked.sort((x, y) => x.ms - y.ms);
    const best = ranked[0];
    if (!best) return null;
    const gflops = (ms: number) => ((2 * M * N * K) / (ms * 1e6)).toFixed(2);
    const report = ranked.map((r) => `${tuningName(r.t)} ${gflops(r.ms)}`).join(', ');
    return { best: best.t, measured, report: `${report} GFLOP/s` };
  } finally {
    a.destroy();
    b.destroy();
    out.destroy();
  }
}
