// The run config's schema holds every rule, cross-field ones included, and the parser the
// volunteers run (parseRunConfig) applies them all: one test per rule, each breaking only it.
import { describe, expect, it } from 'vitest';
import { ACTIVATION_CODECS } from '../../../protocol/activation-frame.ts';
import { DENSE, validateCompression } from '../../../protocol/compression-settings.ts';
import {
  DEFAULT_MODEL,
  gptParameterCount,
  MAX_GPT_DIMENSIONS,
  MAX_PARAMETERS,
  validateConfig,
} from '../../../protocol/gpt-config.ts';
import { MAX_STAMP_BITS } from '../../../protocol/identity-stamp.ts';
import { learningRateAt } from '../../../protocol/learning-rate.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import {
  checkRunConfig,
  DEFAULT_PIPELINE,
  DEFAULT_RUN,
  innerLearningRate,
  MAX_BATCH_SEQUENCES,
  MAX_INNER_STEPS,
  parseRunConfig,
  pipelineLearningRate,
  type RunConfig,
} from '../../../protocol/run-config.ts';
import { resolveRunConfig } from '../../../relay/run/run-config.ts';

type Sections = { [K in keyof RunConfig]?: unknown };

/** DEFAULT_RUN with some sections' keys replaced. */
function variant(changes: Sections): Record<string, unknown> {
  const out: Record<string, unknown> = { ...DEFAULT_RUN };
  for (const [key, value] of Object.entries(changes)) {
    const base = (out[key] ?? (key === 'pipeline' ? DEFAULT_PIPELINE : undefined)) as unknown;
    out[key] =
      typeof base === 'object' && base !== null && typeof value === 'object' && value !== null
        ? { ...base, ...value }
        : value;
  }
  return out;
}

/** The parser volunteers run refuses `changes`; the message names `path` and says `says`. */
function refused(changes: Sections, path: string, says: RegExp | string) {
  const input = variant(changes);
  expect(parseRunConfig(input)).toBeNull();
  const checked = checkRunConfig(input);
  expect(checked.ok).toBe(false);
  if (checked.ok) return;
  expect(checked.message.startsWith(`run config ${path}:`)).toBe(true);
  expect(checked.message).toMatch(says);
}

describe('parseRunConfig', () => {
  it('accepts the defaults, with and without a pipeline section', () => {
    expect(parseRunConfig(DEFAULT_RUN)).toEqual(DEFAULT_RUN);
    expect(parseRunConfig({ ...DEFAULT_RUN, pipeline: DEFAULT_PIPELINE })?.pipeline).toEqual(
      DEFAULT_PIPELINE,
    );
  });

  it('asks for an identity stamp of 0 to MAX_STAMP_BITS whole bits', () => {
    expect(DEFAULT_RUN.identity.stampBits).toBe(22);
    expect(parseRunConfig(variant({ identity: { stampBits: 0 } }))).not.toBeNull();
    for (const stampBits of [-1, 1.5, MAX_STAMP_BITS + 1, '22'])
      refused({ identity: { stampBits } }, 'identity.stampBits', /./);
    refused({ identity: null }, 'identity', /./);
  });

  it('never throws on garbage', () => {
    for (const input of [null, 7, 'run', [], {}, { ...DEFAULT_RUN, model: null }])
      expect(parseRunConfig(input)).toBeNull();
  });

  describe('model shape', () => {
    it('every dimension is a positive integer', () => {
      refused({ model: { nLayer: 0 } }, 'model.nLayer', 'nLayer must be a positive integer, got 0');
      refused({ model: { vocabSize: 2.5 } }, 'model.vocabSize', 'vocabSize must be a positive integer');
    });
    it('no dimension exceeds its cap, so no peer builds a layout that exhausts its memory', () => {
      // 2^24 layers once took a volunteer's heap to 4 GB and aborted it, uncatchably.
      refused(
        { model: { nLayer: 2 ** 24 } },
        'model.nLayer',
        `nLayer must be at most ${MAX_GPT_DIMENSIONS.nLayer}`,
      );
      refused({ model: { vocabSize: 2 ** 40 } }, 'model.vocabSize', 'vocabSize must be at most');
      refused({ model: { dModel: 2 ** 50 } }, 'model.dModel', 'dModel must be at most');
    });
    it('the parameter count stays within what u32 indexing and a peer can hold', () => {
      const big = { vocabSize: 2 ** 20, contextLength: 1024, dModel: 2 ** 14, nLayer: 16, nHead: 16 };
      refused({ model: big }, 'model.dModel', `parameters exceed ${MAX_PARAMETERS}`);
    });
    it('counts parameters as the layout lays them out', () => {
      for (const model of [
        DEFAULT_MODEL,
        { vocabSize: 50_257, contextLength: 1024, dModel: 768, nLayer: 12, nHead: 12 },
      ])
        expect(gptParameterCount(model)).toBe(paramLayout(model).paramCount);
    });
    it('dModel is a multiple of nHead', () => {
      refused(
        { model: { dModel: 132, nHead: 8 } },
        'model.dModel',
        'dModel (132) must be a multiple of nHead (8)',
      );
    });
    it('dModel is a multiple of 4 (vec4 kernels)', () => {
      refused({ model: { dModel: 126, nHead: 3 } }, 'model.dModel', 'must be a multiple of 4');
    });
    it('validateConfig throws the same rules', () => {
      expect(() => validateConfig(DEFAULT_MODEL)).not.toThrow();
      expect(() => validateConfig({ ...DEFAULT_MODEL, dModel: 30 })).toThrow(
        'dModel (30) must be a multiple of nHead (4)',
      );
      expect(() => validateConfig({ ...DEFAULT_MODEL, dModel: 6, nHead: 2 })).toThrow(RangeError);
    });
  });

  describe('inner', () => {
    it('seqLen fits the context', () => {
      refused(
        { inner: { seqLen: DEFAULT_MODEL.contextLength + 1 } },
        'inner.seqLen',
        'exceeds model.contextLength',
      );
    });
    it(`a step is at most ${MAX_BATCH_SEQUENCES} sequences`, () => {
      refused({ inner: { batchSize: MAX_BATCH_SEQUENCES + 1 } }, 'inner.batchSize', /.+/);
      refused({ pipeline: { microbatchSize: 2 ** 40 } }, 'pipeline.microbatchSize', /.+/);
    });
    it(`a round is at most ${MAX_INNER_STEPS} inner steps`, () => {
      refused({ round: { innerSteps: 2 ** 53 - 1 } }, 'round.innerSteps', /.+/);
    });
    it('minLrRatio is in (0, 1]', () => {
      refused({ inner: { minLrRatio: 0 } }, 'inner.minLrRatio', /.+/);
    });
    it('betas are in [0, 1)', () => {
      refused({ inner: { beta2: 1 } }, 'inner.beta2', /.+/);
    });
  });

  describe('round compression', () => {
    it('randomK is in (0, 1]', () => {
      refused(
        { round: { compression: { ...DENSE, randomK: 1.5 } } },
        'round.compression.randomK',
        'randomK must be in (0, 1], got 1.5',
      );
    });
    it('topK is in (0, 1]', () => {
      refused(
        { round: { compression: { ...DENSE, topK: 0 } } },
        'round.compression.topK',
        'topK must be in (0, 1], got 0',
      );
    });
    it('bits is 1, 2, 4, 8 or 32', () => {
      refused(
        { round: { compression: { ...DENSE, bits: 3 } } },
        'round.compression.bits',
        'bits must be 1, 2, 4, 8 or 32, got 3',
      );
    });
    it('blockSize is a multiple of 32 from 32 to 4096', () => {
      refused(
        { round: { compression: { ...DENSE, blockSize: 100 } } },
        'round.compression.blockSize',
        'multiple of 32 from 32 to 4096, got 100',
      );
      refused(
        { round: { compression: { ...DENSE, blockSize: 8192 } } },
        'round.compression.blockSize',
        'got 8192',
      );
    });
    it('validateCompression throws the same rules', () => {
      expect(() => validateCompression(DENSE)).not.toThrow();
      expect(() => validateCompression({ ...DENSE, topK: 2 })).toThrow('topK must be in (0, 1], got 2');
    });
    it('the outer momentum is in [0, 1)', () => {
      refused({ round: { outerMomentum: 1 } }, 'round.outerMomentum', /.+/);
    });
  });

  describe('schedule', () => {
    it('minRoundMs does not exceed maxRoundMs', () => {
      refused(
        { schedule: { minRoundMs: 10_000, maxRoundMs: 5_000 } },
        'schedule.minRoundMs',
        'exceeds schedule.maxRoundMs',
      );
    });
    it('minPeers may exceed maxGroupSize: a round seats every ready peer in as many groups as needed', () => {
      expect(parseRunConfig(variant({ schedule: { minPeers: 17, maxGroupSize: 16 } }))).not.toBeNull();
    });
    it('the aggregate is sent at 1, 2, 4, 8 or 32 bits', () => {
      refused({ round: { aggregateBits: 3 } }, 'round.aggregateBits', /1, 2, 4, 8 or 32/);
    });
    it('a group holds at most 64 peers', () => {
      refused({ schedule: { maxGroupSize: 65 } }, 'schedule.maxGroupSize', /.+/);
    });
  });

  describe('pipeline', () => {
    it('every stage has a layer', () => {
      refused({ pipeline: { stages: DEFAULT_MODEL.nLayer + 1 } }, 'pipeline.stages', 'exceeds model.nLayer');
    });
    it('at most 8 stages and 32 microbatches', () => {
      const model = { ...DEFAULT_MODEL, nLayer: 12 };
      refused({ model, pipeline: { stages: 9 } }, 'pipeline.stages', /.+/);
      refused({ pipeline: { microbatches: 33 } }, 'pipeline.microbatches', /.+/);
    });
    it('codecs are the activation frame’s, below 4 bits, deltas and stochastic ones included', () => {
      for (const codec of ACTIVATION_CODECS)
        expect(parseRunConfig(variant({ pipeline: { forward: codec, backward: codec } }))).not.toBeNull();
      refused({ pipeline: { forward: 'int5' } }, 'pipeline.forward', /.+/);
      refused({ pipeline: { backward: 'delta-int4-sr' } }, 'pipeline.backward', /.+/);
    });
    it('the learning rate is positive and the warmup a whole number of steps', () => {
      refused({ pipeline: { learningRate: 0 } }, 'pipeline.learningRate', /.+/);
      refused({ pipeline: { learningRate: Number.POSITIVE_INFINITY } }, 'pipeline.learningRate', /.+/);
      refused({ pipeline: { warmupSteps: 1.5 } }, 'pipeline.warmupSteps', /.+/);
      refused({ pipeline: { warmupSteps: -1 } }, 'pipeline.warmupSteps', /.+/);
    });
    it('blockSize is a multiple of 32 from 32 to 4096', () => {
      refused(
        { pipeline: { blockSize: 48 } },
        'pipeline.blockSize',
        'multiple of 32 from 32 to 4096, got 48',
      );
    });
  });

  it('the relay merges an operator file over the defaults with the same rules', () => {
    const resolved = resolveRunConfig({ model: { dModel: 130 } });
    expect(resolved).toEqual({
      ok: false,
      message: 'run config model.dModel: dModel (130) must be a multiple of nHead (4)',
    });
    expect(resolveRunConfig({ pipeline: { stages: 3 } })).toMatchObject({ ok: true });
    expect(resolveRunConfig({ oops: 1 })).toEqual({ ok: false, message: 'unknown run config keys: oops' });
  });
});

describe('the learning-rate schedule', () => {
  const config = { ...DEFAULT_RUN, totalRounds: 20, inner: { ...DEFAULT_RUN.inner, warmupRounds: 3 } };

  it('warms a run up over rounds below the peak, then decays to the floor (as before the merge)', () => {
    const { learningRate: lr, minLrRatio } = config.inner;
    // The formula the relay used before the schedules were merged, written out.
    const before = (round: number) => {
      const minLr = lr * minLrRatio;
      if (round < 3) return (lr * (round + 1)) / (3 + 1);
      const progress = Math.min(1, (round - 3) / Math.max(1, 20 - 3));
      return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (lr - minLr);
    };
    for (let round = 0; round < 25; round++) expect(innerLearningRate(config, round)).toBe(before(round));
    expect(innerLearningRate(config, 3)).toBe(lr);
    expect(innerLearningRate(config, 20)).toBeCloseTo(lr * minLrRatio, 12);
  });

  it('the train command reaches the peak on the last warmup step', () => {
    const s = { learningRate: 1e-2, minLrRatio: 0.1, warmup: 4, total: 10, ramp: 'to-peak' as const };
    expect(learningRateAt(0, s)).toBe(1e-2 / 4);
    expect(learningRateAt(3, s)).toBe(1e-2);
    expect(learningRateAt(10, s)).toBeCloseTo(1e-3, 12);
  });

  it('a pipeline run steps at its own rate and warmup, counted in steps, not the inner ones', () => {
    const pipeline = { ...DEFAULT_PIPELINE, learningRate: 1e-3, warmupSteps: 4 };
    const run = { ...config, pipeline };
    expect(pipelineLearningRate(run, pipeline, 0)).toBe(1e-3 / 5);
    expect(pipelineLearningRate(run, pipeline, 4)).toBe(1e-3);
    expect(pipelineLearningRate(run, pipeline, 20)).toBeCloseTo(1e-3 * config.inner.minLrRatio, 12);
    // The inner rate (3e-3 after 3 rounds) spikes the default model when it drives a pipeline.
    expect(pipelineLearningRate(run, pipeline, 3)).not.toBe(innerLearningRate(run, 3));
    expect(DEFAULT_PIPELINE.learningRate).toBeLessThan(DEFAULT_RUN.inner.learningRate);
  });

  it('without warmup both rampings are the same schedule', () => {
    const s = { learningRate: 3e-3, minLrRatio: 0.1, warmup: 0, total: 50 };
    for (let t = 0; t < 60; t++)
      expect(learningRateAt(t, { ...s, ramp: 'to-peak' })).toBe(
        learningRateAt(t, { ...s, ramp: 'below-peak' }),
      );
  });
});
