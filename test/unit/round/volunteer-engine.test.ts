// The volunteer's GPU side: the throttle really idles the GPU between steps, pause holds
// training until resumed, state files round-trip under their hash, a round's outcome is kept
// only when the relay commits it, and the peer's own optimizer and residual state survive.
import { expect, it } from 'vitest';
import { isTrainingAborted } from '../../../kernels/round/training-aborted.ts';
import { LocalVolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { decodeLocalState } from '../../../protocol/local-state-file.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';
import { brownSample } from '../../helpers/brown-sample.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { relayAggregate } from '../../helpers/relay-aggregate.ts';
import { memoryTuneCache } from '../../helpers/tune-cache-memory.ts';

const resolved = resolveRunConfig({
  model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2 },
  inner: { batchSize: 2, seqLen: 16 },
  round: { innerSteps: 3, compression: { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 } },
});
if (!resolved.ok) throw new Error(resolved.message);
const config = resolved.config;

async function engine(sleep: (ms: number) => Promise<void> = async () => {}, run = config) {
  const n = paramLayout(run.model).totalFloats;
  return LocalVolunteerEngine.create({
    ctx: await nodeContext(),
    config: run,
    initial: { weights: initParams(run.model, run.seed), momentum: new Float32Array(n) },
    tuneCache: memoryTuneCache(),
    noiseStream: 7,
    sleep,
  });
}

const work = (round: number) => ({
  round,
  seed: 1234 + round,
  tokens: brownSample(2).train.subarray(0, 3 * 2 * 16 + 1),
  innerSteps: 3,
  learningRate: 3e-3,
});

it('idles t (1 − d) / d after each step of t ms, and holds training while paused', async () => {
  const sleeps: number[] = [];
  const e = await engine(async (ms) => {
    sleeps.push(ms);
  });
  try {
    const steps: number[] = [];
    await e.setDutyCycle(0.25);
    await e.train(work(0), (p) => steps.push(p.step));
    expect(steps).toEqual([1, 2, 3]);
    expect(sleeps).toHaveLength(3);
    expect(sleeps.every((ms) => ms > 0)).toBe(true);
    await expect(e.setDutyCycle(0)).rejects.toThrow(RangeError);

    await e.setDutyCycle(1);
    await e.setPaused(true);
    let done = false;
    const training = e.train(work(1)).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(done).toBe(false); // at most the first step ran, then it waits
    await e.setPaused(false);
    await training;
    expect(done).toBe(true);
  } finally {
    await e.destroy();
  }
});

it('keeps a round only when the relay commits its hash, and moves state between engines', async () => {
  const a = await engine();
  const b = await engine();
  try {
    const start = await a.stateHash();
    expect(await b.stateHash()).toBe(start);
    await a.train(work(0));
    const frame = await a.contribute(work(0));
    const aggregate = relayAggregate(config, work(0), [{ peer: 'a', tokens: 96, frame }]);
    const { hash } = await a.finish(work(0), aggregate);
    expect(hash).not.toBe(start);
    expect(await a.stateHash()).toBe(start); // pending until committed
    await a.discard();
    expect(await a.commit(0, hash)).toBe(false); // nothing pending after discard
    await a.finish(work(0), aggregate);
    expect(await a.commit(0, hash)).toBe(true);
    expect(await a.stateHash()).toBe(hash);

    const file = await a.exportState();
    expect(await b.importState(file, 'f'.repeat(64))).toMatchObject({ ok: false });
    expect(await b.stateHash()).toBe(start);
    expect(await b.importState(file, hash)).toEqual({ ok: true });
    expect(await b.stateHash()).toBe(hash);

    // The peer's own AdamW moments, step and residual survive a restart byte for byte.
    const local = await a.exportLocalState(0);
    expect(await b.importLocalState(new Uint8Array([1, 2, 3]))).toBe(false);
    expect(await b.importLocalState(local)).toBe(true);
    expect(await b.exportLocalState(0)).toEqual(local);
    expect(decodeLocalState(local, paramLayout(config.model).totalFloats)).toMatchObject({
      step: 3,
      round: 0,
    });
  } finally {
    await a.destroy();
    await b.destroy();
  }
});

it('a peer that joined from the checkpoint lands on the same hash as one that trained the round before', async () => {
  const member = await engine();
  const joiner = await engine();
  try {
    await member.train(work(0));
    const first = await member.contribute(work(0));
    const { hash: h0 } = await member.finish(
      work(0),
      relayAggregate(config, work(0), [{ peer: 'm', tokens: 96, frame: first }]),
    );
    expect(await member.commit(0, h0)).toBe(true);
    expect(await joiner.importState(await member.exportState(), h0)).toEqual({ ok: true });

    // Round 1: both train (the member with its own AdamW moments and residual, the joiner
    // fresh), and apply the aggregate of both frames, in whatever order the relay got them.
    const tokens = brownSample(2).train;
    await member.train({ ...work(1), tokens: tokens.subarray(0, 97) });
    await joiner.train({ ...work(1), tokens: tokens.subarray(500, 597) });
    const frames = [
      { peer: 'j', tokens: 96, frame: await joiner.contribute(work(1)) },
      { peer: 'm', tokens: 96, frame: await member.contribute(work(1)) },
    ];
    const aggregate = relayAggregate(config, work(1), frames);
    expect(relayAggregate(config, work(1), [...frames].reverse())).toEqual(aggregate);
    const a = await member.finish(work(1), aggregate);
    const b = await joiner.finish(work(1), aggregate);
    expect(a).toEqual({ hash: b.hash });
    expect(await member.commit(1, a.hash)).toBe(true);
    expect(await joiner.commit(1, a.hash)).toBe(true);
  } finally {
    await member.destroy();
    await joiner.destroy();
  }
});

it('shutting down mid-training stops at the next step and frees the GPU only after it', async () => {
  const e = await engine();
  await e.setPaused(true); // holds the run after its first step, as a slow step would
  const steps: number[] = [];
  const training = e.train(work(0), (p) => steps.push(p.step));
  await expect.poll(() => steps.length).toBe(1);
  await e.destroy();
  await expect(training).rejects.toThrow(/shut down during training/);
  expect(steps).toEqual([1]);
});

it('an aborted round stops training at its next step, leaves θ_r as it was, and trains again', async () => {
  const aborted = await engine();
  const plain = await engine();
  try {
    await aborted.setPaused(true); // holds the run after its first step, as a slow step would
    const steps: number[] = [];
    const training = aborted.train(work(0), (p) => steps.push(p.step));
    await expect.poll(() => steps.length).toBe(1);
    await aborted.abortTraining();
    await expect(training).rejects.toSatisfy(isTrainingAborted);
    expect(steps).toEqual([1]);
    await aborted.setPaused(false);
    await aborted.discard();
    // Nothing of the aborted round is in θ_r (AdamW moments and step count are the peer's own,
    // outside the committed state), and the round opened again trains from it.
    const outcome = async (e: LocalVolunteerEngine) => {
      await e.train(work(0));
      const frame = await e.contribute(work(0));
      return e.finish(work(0), relayAggregate(config, work(0), [{ peer: 'p', tokens: 96, frame }]));
    };
    expect(await aborted.stateHash()).toBe(await plain.stateHash());
    const again = await outcome(aborted);
    expect(again.hash).not.toBe(await aborted.stateHash());
    // An abort with nothing training changes nothing for the next training.
    await plain.abortTraining();
    const steps2: number[] = [];
    await plain.train(work(1), (p) => steps2.push(p.step));
    expect(steps2).toEqual([1, 2, 3]);
  } finally {
    await aborted.destroy();
    await plain.destroy();
  }
});

it('commits a 1-bit round on a padded model to a state that hashes the same after a file round trip', async () => {
  // dModel 32: every (32)-float LayerNorm tensor is padded to 64 floats. A 1-bit frame decodes
  // each sent index to ±scale, padding included; the committed weights must still equal what a
  // checkpoint (which carries no padding) reads back as.
  const oneBit = resolveRunConfig({
    ...config,
    round: { ...config.round, compression: { randomK: 0.7, topK: 1, bits: 1, blockSize: 512 } },
  });
  if (!oneBit.ok) throw new Error(oneBit.message);
  const layout = paramLayout(oneBit.config.model);
  expect(layout.totalFloats).toBeGreaterThan(layout.paramCount);
  const a = await engine(undefined, oneBit.config);
  const b = await engine(undefined, oneBit.config);
  try {
    for (const round of [0, 1]) {
      await a.train(work(round));
      const frame = await a.contribute(work(round));
      const { hash } = await a.finish(
        work(round),
        relayAggregate(oneBit.config, work(round), [{ peer: 'a', tokens: 96, frame }]),
      );
      expect(await a.commit(round, hash)).toBe(true);
      expect(await b.importState(await a.exportState(), hash)).toEqual({ ok: true });
    }
  } finally {
    await a.destroy();
    await b.destroy();
  }
});
