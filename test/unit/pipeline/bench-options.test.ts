// `npm run bench:pipeline`'s settings: flags over a --config file over the defaults, and every
// setting the bench cannot run refused up front with a message that names it.
import { describe, expect, it } from 'vitest';
import {
  codecName,
  DEFAULT_PIPELINE,
  PIPELINE_HELP,
  parsePipelineCli,
} from '../../bench/pipeline/options.ts';

/** A --config reader over an in-memory folder. */
function files(entries: Record<string, string>) {
  return (path: string) => {
    const text = entries[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  };
}

const parse = (argv: string[], entries: Record<string, string> = {}) =>
  parsePipelineCli(argv, files(entries));

describe('bench:pipeline options', () => {
  it('runs the defaults with no flags, and --help returns null', () => {
    expect(parse([])).toEqual({ config: DEFAULT_PIPELINE, json: false });
    expect(parse(['--help'])).toBeNull();
    expect(parse(['-h'])).toBeNull();
    expect(PIPELINE_HELP).toContain('>= 8x less activation traffic');
    expect(PIPELINE_HELP).toContain('within 2%');
  });

  it('the defaults hold the settings the bench reports on', () => {
    const names = DEFAULT_PIPELINE.codecs.map(codecName);
    for (const name of [
      'fp32/fp32',
      'int8/int8',
      'int4/int8',
      'delta-int4/int8',
      'delta-int4/int4',
      'delta-int4/int3-sr',
    ])
      expect(names).toContain(name);
    expect(DEFAULT_PIPELINE.stages).toEqual([2, 4]);
    expect(DEFAULT_PIPELINE.batchSize % DEFAULT_PIPELINE.microbatches).toBe(0);
    // Samples must come back for the delta codecs to send deltas.
    expect(DEFAULT_PIPELINE.steps).toBeGreaterThan(DEFAULT_PIPELINE.poolBatches);
  });

  it('reads the common knobs from flags', () => {
    const cli = parse([
      '--steps',
      '12',
      '--batch',
      '4',
      '--microbatches',
      '2',
      '--pool',
      '3',
      '--stages',
      '2, 3',
      '--block-size',
      '256',
      '--json',
    ]);
    expect(cli?.json).toBe(true);
    expect(cli?.config).toMatchObject({
      steps: 12,
      batchSize: 4,
      microbatches: 2,
      poolBatches: 3,
      stages: [2, 3],
      blockSize: 256,
    });
  });

  it('reads the optimizer knobs from flags, over the file', () => {
    const file = JSON.stringify({ learningRate: 0.002, beta2: 0.9 });
    const cli = parse(
      ['--config', 'opt.json', '--lr', '1e-3', '--warmup', '0', '--eps', '1e-6', '--seed', '7'],
      { 'opt.json': file },
    );
    expect(cli?.config).toMatchObject({ learningRate: 1e-3, warmupSteps: 0, beta2: 0.9, eps: 1e-6, seed: 7 });
    expect(() => parse(['--lr', 'fast'])).toThrow('--lr must be a number, got fast');
    expect(() => parse(['--lr', ''])).toThrow('--lr must be a number, got ');
    expect(() => parse(['--lr', '0'])).toThrow('learningRate must be > 0, got 0');
    expect(() => parse(['--warmup', '1.5'])).toThrow('warmupSteps must be a non-negative integer, got 1.5');
    expect(() => parse(['--beta2', '1'])).toThrow('beta2 must be in [0, 1), got 1');
    expect(() => parse(['--eps', '0'])).toThrow('eps must be > 0, got 0');
    expect(() => parse(['--seed', '0.5'])).toThrow('seed must be an integer, got 0.5');
  });

  it('merges a --config file over the defaults, and flags over the file', () => {
    const file = JSON.stringify({
      steps: 30,
      evalBatches: 4,
      stages: [3],
      codecs: [{ forward: 'int8', backward: 'int4', blockSize: 64 }],
    });
    const cli = parse(['--config', 'quick.json', '--steps', '8'], { 'quick.json': file });
    expect(cli?.config).toEqual({
      ...DEFAULT_PIPELINE,
      steps: 8,
      evalBatches: 4,
      stages: [3],
      codecs: [{ forward: 'int8', backward: 'int4', blockSize: 64 }],
    });
    expect(cli?.config.codecs.map(codecName)).toEqual(['int8/int4 b64']);
  });

  it('names a setting by its codecs, first crossing and block size', () => {
    expect(codecName({ forward: 'delta-int2', backward: 'int4-sr' })).toBe('delta-int2/int4-sr');
    expect(
      codecName({ forward: 'delta-int2', backward: 'int4-sr', firstCrossing: 'int8', blockSize: 256 }),
    ).toBe('delta-int2/int4-sr first-int8 b256');
  });

  it('--only keeps the named codec settings, in the config order', () => {
    const cli = parse(['--only', 'delta-int4/int8, fp32/fp32']);
    expect(cli?.config.codecs.map(codecName)).toEqual(['fp32/fp32', 'delta-int4/int8']);
    expect(parse(['--only', 'unsplit'])?.config.codecs).toEqual([]);
    expect(() => parse(['--only', 'int2/int2'])).toThrow(
      /--only: no codec setting named int2\/int2 \(known: fp32\/fp32/,
    );
  });

  it('refuses bad flag values with the flag in the message', () => {
    expect(() => parse(['--steps', '0'])).toThrow('--steps must be a positive integer, got 0');
    expect(() => parse(['--steps', 'many'])).toThrow('--steps must be a positive integer, got many');
    expect(() => parse(['--batch', '2.5'])).toThrow('--batch must be a positive integer, got 2.5');
    expect(() => parse(['--stages', '2,'])).toThrow('--stages must be a positive integer');
    expect(() => parse(['--batch', '6', '--microbatches', '4'])).toThrow(
      'batch 6 does not split into 4 microbatches',
    );
    expect(() => parse(['--stages', '1'])).toThrow(
      'stages: 1 is not a split of 4 layers into 2 or more stages',
    );
    expect(() => parse(['--stages', '5'])).toThrow('stages: 5 is not a split of 4 layers');
    expect(() => parse(['--block-size', '100'])).toThrow(
      'blockSize must be a multiple of 32 from 32 to 4096, got 100',
    );
    expect(() => parse(['--stpes', '3'])).toThrow(/Unknown option '--stpes'/);
  });

  it('refuses a config file it cannot use, naming the file and the setting', () => {
    const refuse = (text: string) => () => parse(['--config', 'c.json'], { 'c.json': text });
    expect(() => parse(['--config', 'missing.json'])).toThrow(/--config missing.json: ENOENT/);
    expect(refuse('{"steps": 3,')).toThrow(/--config c.json: .*JSON/);
    expect(refuse('[1, 2]')).toThrow('--config c.json: expected a JSON object');
    expect(refuse('{"step": 3}')).toThrow('--config c.json: unknown key step (known: model, steps,');
    expect(refuse('{"codecs": [{"forward": "int5", "backward": "int8"}]}')).toThrow(
      'codecs: forward codec "int5" is not one of fp32, int8, int4, int3, int2, delta-int8',
    );
    expect(
      refuse('{"codecs": [{"forward": "delta-int2", "backward": "int8", "firstCrossing": "delta-int8"}]}'),
    ).toThrow('codecs: first crossing "delta-int8" is not one of fp32, int8, int4, int3, int2, int8-sr');
    expect(refuse('{"codecs": [{"forward": "int2", "backward": "int8", "firstCrossing": "int8"}]}')).toThrow(
      'codecs: int2/int8 first-int8 has a first crossing but no delta codec',
    );
    expect(refuse('{"codecs": [{"forward": "int8", "backward": "int8", "blockSize": 48}]}')).toThrow(
      'codecs: int8/int8 b48 blockSize must be a multiple of 32',
    );
    expect(refuse('{"codecs": []}')).toThrow('codecs must list at least one setting');
    expect(refuse('{"seqLen": 128}')).toThrow("seqLen 128 exceeds the model's context of 64");
    expect(refuse('{"learningRate": -1}')).toThrow('learningRate must be > 0, got -1');
    expect(
      refuse('{"model": {"vocabSize": 256, "contextLength": 64, "dModel": 30, "nLayer": 4, "nHead": 4}}'),
    ).toThrow('dModel (30) must be a multiple of nHead (4)');
  });
});
