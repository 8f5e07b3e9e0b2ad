// The relay's check of a contribution (relay/rounds/work-check.ts): it redoes the member's round
// on the CPU from its revealed starting state and compares frames. Honest work passes, from the
// CPU reference and from the real GPU engine (Dawn here; the figure printed is how close the
// two adapters come); zeros, noise, another member's frame, last round's step, and a made-up
// residual that would decide the frame on its own do not.
import { expect, it } from 'vitest';
import { compressReference } from '../../../kernels/reference/compress.ts';
import { type InnerStart, innerLoopReference, residualAfter } from '../../../kernels/reference/inner-loop.ts';
import { frameOf } from '../../../kernels/round/payload.ts';
import { LocalVolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
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

it('passes honest CPU work and refuses zeros, noise, copies, stale steps and a made-up residual', () => {
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
    expect(honest).toEqual({ ok: true, agreement: 1 });
    const attacks: Record<string, Uint8Array> = {
      zero: frameOfValues(new Float32Array(N), round, 1),
      noise: frameOfValues(
        Float32Array.from({ length: N }, (_, i) => Math.sin(i * 7.1) * 1e-3),
        round,
        1,
      ),
      copy: frames[1] as Uint8Array,
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

    lastAcc = (done[0] as { acc: Float32Array }).acc;
    done.forEach((d, p) => {
      states[p] = { m: d.m, v: d.v, residual: residualAfter(d.acc, d.payload), step: d.step };
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
});

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
      const { hash } = await engine.finish(work, [{ peer: peerKey, tokens: 96, frame }]);
      expect(await engine.commit(round, hash)).toBe(true);
    }
  } finally {
    await engine.destroy();
  }
});
