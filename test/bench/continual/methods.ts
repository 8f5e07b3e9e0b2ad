// One seed of the bench: the two A models (cosine, and the infinite schedule's A phase), each
// continual method's B phase from them, and re-training from scratch on A ∪ B, every model
// scored on A's and B's validation splits. All B phases draw the same B batches (one stream
// per seed), so methods differ only by schedule and replay.
import type { GpuGpt } from '../../../kernels/gpt/gpu-gpt.ts';
import type { TrainConfig } from '../../../kernels/train/config.ts';
import { randomBatches } from '../../../kernels/train/trainer.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { createRng } from '../../../protocol/rng.ts';
import { validationLoss } from '../swarm/evaluate.ts';
import { continualPhases, type Phase, retrainingPhases } from './compute.ts';
import { MixedBatches } from './mixture.ts';
import type { ContinualBenchConfig } from './options.ts';
import { bPhasePlans } from './plans.ts';
import type { Distribution } from './prepare-splits.ts';
import { cosinePhase, floorPhase, infinitePhases } from './schedules.ts';
import { trainPhase } from './train-phase.ts';

export interface MethodResult {
  readonly method: string;
  readonly valLossA: number;
  readonly valLossB: number;
  readonly phases: readonly Phase[];
}

export interface SeedSetup {
  readonly model: GpuGpt;
  readonly train: TrainConfig;
  readonly config: ContinualBenchConfig;
  readonly a: Distribution;
  readonly b: Distribution;
  readonly log: (line: string) => void;
}

export const RETRAIN = 're-train on A ∪ B';

export async function runSeed(
  setup: SeedSetup,
  seed: number,
): Promise<{ aModel: MethodResult; rows: MethodResult[] }> {
  const { model, train, config, a, b, log } = setup;
  const { aSteps, bSteps } = config;
  const peak = {
    learningRate: config.learningRate,
    minLrRatio: config.minLrRatio,
    warmupSteps: config.warmupSteps,
  };
  // Re-warming climbs to its own peak and decays to A's floor.
  const rewarm = {
    ...peak,
    learningRate: config.learningRate * config.rewarmRatio,
    minLrRatio: Math.min(1, config.minLrRatio / config.rewarmRatio),
  };
  const infinite = infinitePhases(
    {
      ...peak,
      plateauRatio: config.plateauRatio,
      decaySteps: Math.round(config.decayFraction * aSteps),
      annealSteps: Math.max(1, Math.round(config.annealFraction * bSteps)),
    },
    aSteps,
    bSteps,
  );
  const theta0 = initParams(config.model, seed);
  // One stream per set and seed: every A phase sees the same A batches, every B phase the same B.
  const aBatches = () => ({ split: a.train, rng: createRng(seed + 1) });
  const bBatches = () => ({ split: b.train, rng: createRng(seed + 2) });
  const replayBatches = () => ({ split: a.train, rng: createRng(seed + 3) });
  const score = async (method: string, params: Float32Array, phases: Phase[]): Promise<MethodResult> => {
    const result = {
      method,
      valLossA: await validationLoss(model, params, a.val, config.evalBatches),
      valLossB: await validationLoss(model, params, b.val, config.evalBatches),
      phases,
    };
    log(`seed ${seed}: ${method}: A ${result.valLossA.toFixed(4)}, B ${result.valLossB.toFixed(4)}`);
    return result;
  };

  const cosineA = await trainPhase(
    model,
    train,
    theta0,
    aSteps,
    cosinePhase(peak, aSteps),
    randomBatches(a.train, aBatches().rng),
  );
  const aModel = await score('A model (cosine)', cosineA.params, continualPhases(cosineA.tokens, 0));
  const infiniteA = await trainPhase(
    model,
    train,
    theta0,
    aSteps,
    infinite.a,
    randomBatches(a.train, aBatches().rng),
  );

  const rows: MethodResult[] = [];
  const startOf = { cosine: cosineA, infinite: infiniteA };
  const rateOf = { floor: floorPhase(peak), rewarm: cosinePhase(rewarm, bSteps), infinite: infinite.b };
  for (const plan of bPhasePlans(config.replay, config.infiniteReplay)) {
    const start = startOf[plan.from];
    const data = new MixedBatches(bBatches(), replayBatches(), plan.replay);
    const bPhase = await trainPhase(model, train, start.params, bSteps, rateOf[plan.rate], data);
    rows.push(await score(plan.method, bPhase.params, continualPhases(start.tokens, bPhase.tokens)));
  }

  // Re-training: A ∪ B from θ_0, B's sequences mixed in at B's share of the tokens.
  const total = aSteps + bSteps;
  const union = new MixedBatches(aBatches(), bBatches(), bSteps / total);
  const scratch = await trainPhase(model, train, theta0, total, cosinePhase(peak, total), union);
  rows.push(await score(RETRAIN, scratch.params, retrainingPhases(scratch.tokens)));
  return { aModel, rows };
}
