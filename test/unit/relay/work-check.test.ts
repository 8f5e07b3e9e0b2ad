// The relay's check of a contribution (relay/rounds/work-check.ts): it redoes the member's round
// on the CPU from its revealed starting state and compares frames. Honest work passes, from the
// CPU reference and from the real GPU engine (Dawn here; the figure printed is how close the
// two adapters come); zeros, noise, another member's frame, fewer steps than assigned, last
// round's step, and a made-up residual that would decide the frame on its own do not.

import { expect, it } from 'vitest';
import { adamwStep } from '../../../kernels/reference/adamw.ts';
import { compressReference } from '../../../kernels/reference/compress.ts';
import { type InnerStart, innerLoopReference, residualAfter } from '../../../kernels/reference/inner-loop.ts';
import { frameOf } from '../../../kernels/round/payload.ts';
import { LocalVolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { errorDecayOf } from '../../../protocol/compression-settings.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { decodeLocalState } from '../../../protocol/local-state-file.ts';
import { noiseStreamOf } from '../../../protocol/noise-stream.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { deriveSeed } from '../../../protocol/random-k.ts';
import { decodeRoundState } from '../../../protocol/round-state-file.ts';
import { roundUpdate } from '../../../protocol/round-update.ts';
import { encodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { checkWork, MIN_AGREEMENT } from '../../../relay/rounds/work-check.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { relayAggregate } from '../../helpers/relay-aggregate.ts';
import { memoryTuneCache } from '../../helpers/tune-cache-memory.ts';

const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 },
  inner: { batchSize: 2, seqLen: 16 },
  round: { innerSteps: 3 },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;
const N = paramLayout(config.model).totalFloats;
const H = config.round.innerSteps;
const shardTokens = 3 * 2 * 16 + 1;
const train = brownSample(6).train;
const shard = (round: number, peer: number) =>
  train.subarray((2 * round + peer) * shardTokens, (2 * round + peer + 1) * shardTokens);
const expected = (round: number) => ({
  round,
  seed: 1000 + round,
  totalFloats: N,
  compression: config.round.compression,
});
const fresh = (): InnerStart => ({
  m: new Float32Array(N),
  v: new Float32Array(N),
  residual: new Float32Array(N),
  step: 0,
});

function frameOfValues(values: Float32Array, round: number, noiseStream: number): Uint8Array {
  const { seed } = expected(round);
  const { codes: _, ...payload } = compressReference(
    values.slice(),
    config.round.compression,
    seed,
    deriveSeed(seed, noiseStream),
  );
  return encodeTensorFrame(frameOf(payload, round));
}

it('passes honest CPU work and refuses zeros, noise, copies, partial work, stale steps and a made-up residual', () => {
  const weights = initParams(config.model, config.seed);
  const states = [fresh(), fresh()];
  let theta: Float32Array = weights;
  let momentum: Float32Array = new Float32Array(N);
  let lastAcc: Float32Array | null = null;
  for (let round = 0; round < 3; round++) {
    const work = (peer: number) => ({
      weights: theta,
      tokens: shard(round, peer),
      innerSteps: H,
      learningRate: 3e-3,
      seed: expected(round).seed,
      noiseStream: peer + 1,
    });
    const done = [0, 1].map((p) => innerLoopReference(config, states[p] as InnerStart, work(p)));
    const frames = done.map((d) => encodeTensorFrame(frameOf(d.payload, round)));
    const check = (frame: Uint8Array, start = states[0] as InnerStart) =>
      checkWork({
        config,
        expected: expected(round),
        weights: theta,
        start: { ...start, round: round - 1 },
        tokens: shard(round, 0),
        innerSteps: H,
        learningRate: 3e-3,
        noiseStream: 1,
        frame,
      });
    const honest = check(frames[0] as Uint8Array);
    expect(honest).toMatchObject({ ok: true, agreement: 1 });
    console.log(
      `round ${round} honest: the state alone predicts ${((honest as { predicted: number }).predicted * 100).toFixed(1)}%`,
    );
    const attacks: Record<string, Uint8Array> = {
      zero: frameOfValues(new Float32Array(N), round, 1),
      noise: frameOfValues(
        Float32Array.from({ length: N }, (_, i) => Math.sin(i * 7.1) * 1e-3),
        round,
        1,
      ),
      copy: frames[1] as Uint8Array,
      // Partial work: the assigned tokens, but fewer of the assigned steps.
      ...Object.fromEntries(
        [1, H - 1].map((steps) => [
          `${steps} of ${H} steps`,
          encodeTensorFrame(
            frameOf(
              innerLoopReference(config, states[0] as InnerStart, { ...work(0), innerSteps: steps }).payload,
              round,
            ),
          ),
        ]),
      ),
    };
    if (lastAcc) attacks.stale = frameOfValues(lastAcc, round, 1);
    for (const [name, frame] of Object.entries(attacks)) {
      const verdict = check(frame);
      console.log(`round ${round} ${name}: ${verdict.ok ? 'passed' : verdict.reason}`);
      expect(verdict.ok, name).toBe(false);
    }
    // A residual 10x the round's step in a direction of the attacker's choosing, the frame made
    // from it alone: the work hardly moves the codes, yet the check sees the difference.
    const step = Math.hypot(...(done[0] as { delta: Float32Array }).delta);
    const made = Float32Array.from({ length: N }, (_, i) => Math.cos(i * 3.3));
    const residual = made.map((x) => (x * 10 * step) / Math.hypot(...made));
    const dominated = check(frameOfValues(residual, round, 1), { ...(states[0] as InnerStart), residual });
    expect(dominated.ok).toBe(false);
    // Moments no clipped gradient can make (a huge v freezes AdamW: no work needed).
    const frozen = check(frames[0] as Uint8Array, {
      ...(states[0] as InnerStart),
      v: new Float32Array(N).fill(1e30),
    });
    expect(frozen.ok).toBe(false);

    // An outside attack: a starting state that freezes AdamW (every v at the clip's square, m at
    // ±0.7), so the frame follows from the state alone; refused now, since moments of clipped
    // gradients have ‖m‖ ≤ clip and Σv ≤ clip². The strongest state within those bounds (m of
    // norm clip along the last step, v spread evenly) still leaves the work deciding the frame:
    // its frame, predicted with no gradient at all, fails the comparison.
    const frozenStart = {
      ...(states[0] as InnerStart),
      m: Float32Array.from({ length: N }, (_, i) => (i % 2 ? 0.7 : -0.7)),
      v: new Float32Array(N).fill(1),
    };
    expect(check(frameOfValues(predictedWithoutWork(theta, frozenStart, H), round, 1), frozenStart).ok).toBe(
      false,
    );
    // Within every bound: v as large as the drift bound lets it be, spread evenly, and m as
    // large as Cauchy–Schwarz and the clip let it be, pointing against the last step.
    const c =
      (1 - config.inner.beta1) ** 2 /
      (1 - config.inner.beta2) /
      (1 - config.inner.beta1 ** 2 / config.inner.beta2);
    const direction = lastAcc ?? Float32Array.from({ length: N }, (_, i) => Math.sin(i));
    const gradients = (done[0] as { maxGradNormSquared: number }).maxGradNormSquared;
    const vEach = Math.min(1, 15 * gradients) / N;
    const mEach = Math.min(Math.sqrt(c * vEach), 1 / Math.sqrt(N));
    const boundedStart = {
      m: direction.map((x) => (x > 0 ? -mEach : mEach)),
      v: new Float32Array(N).fill(vEach),
      residual: new Float32Array(N),
      step: 1_000_000,
    };
    const bounded = check(
      frameOfValues(predictedWithoutWork(theta, boundedStart, H), round, 1),
      boundedStart,
    );
    console.log(
      `round ${round} predicted without work, within the bounds: ${bounded.ok ? 'passed' : bounded.reason}`,
    );
    expect(bounded.ok).toBe(false);

    lastAcc = (done[0] as { acc: Float32Array }).acc;
    done.forEach((d, p) => {
      states[p] = {
        m: d.m,
        v: d.v,
        residual: residualAfter(d.acc, d.payload, errorDecayOf(config.round.compression)),
        step: d.step,
      };
    });
    const next = roundUpdate(
      theta,
      momentum,
      frames.map((frame, p) => ({ peer: `p${p}`, tokens: 1, frame })),
      expected(round),
      paramLayout(config.model),
      config.round,
    );
    if (!next.ok) throw new Error(next.reason);
    theta = next.weights;
    momentum = next.momentum;
  }
}, 900_000); // three rounds of CPU redo for seven cases: minutes on 2 shared cores

it('passes the GPU engine’s work, redone on the CPU (prints how close the adapters come)', async () => {
  const peerKey = 'A'.repeat(43);
  const noiseStream = noiseStreamOf(config.seed, peerKey);
  const engine = await LocalVolunteerEngine.create({
    ctx: await nodeContext(),
    config,
    initial: { weights: initParams(config.model, config.seed), momentum: new Float32Array(N) },
    tuneCache: memoryTuneCache(),
    noiseStream,
    sleep: async () => {},
  });
  try {
    for (let round = 0; round < 3; round++) {
      const start = decodeLocalState(await engine.exportLocalState(round - 1), N);
      if (!start) throw new Error('local state does not decode');
      const held = await decodeRoundState(config.model, await engine.exportState(), await engine.stateHash());
      if (!held.ok) throw new Error(held.message);
      const work = {
        round,
        seed: expected(round).seed,
        tokens: shard(round, 0),
        innerSteps: H,
        learningRate: 3e-3,
      };
      await engine.train(work);
      const frame = await engine.contribute(work);
      const verdict = checkWork({
        config,
        expected: expected(round),
        weights: held.state.weights,
        start,
        tokens: work.tokens,
        innerSteps: H,
        learningRate: 3e-3,
        noiseStream,
        frame,
      });
      console.log(`GPU round ${round}: ${verdict.ok ? `agreement ${verdict.agreement}` : verdict.reason}`);
      expect(verdict.ok).toBe(true);
      expect(verdict.agreement).toBeGreaterThanOrEqual(MIN_AGREEMENT);
      const { hash } = await engine.finish(
        work,
        relayAggregate(config, work, [{ peer: peerKey, tokens: 96, frame }]),
      );
      expect(await engine.commit(round, hash)).toBe(true);
    }
  } finally {
    await engine.destroy();
  }
});

/** θ_r − θ_local + residual when every gradient is taken to be zero: AdamW on its state alone. */
function predictedWithoutWork(weights: Float32Array, start: InnerStart, steps: number): Float32Array {
  const params = weights.slice();
  const m = start.m.slice();
  const v = start.v.slice();
  const zero = new Float32Array(N);
  const { inner } = config;
  for (let h = 1; h <= steps; h++)
    adamwStep(params, zero, m, v, N, {
      lr: 3e-3,
      beta1: inner.beta1,
      beta2: inner.beta2,
      eps: inner.eps,
      weightDecay: inner.weightDecay,
      step: start.step + h,
      decayEnd: paramLayout(config.model).decayEnd,
      gradScale: 1,
    });
  return weights.map((w, i) => w - (params[i] as number) + (start.residual[i] as number));
}
