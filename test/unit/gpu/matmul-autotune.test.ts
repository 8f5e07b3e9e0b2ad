// Autotune picks one of its candidates, stores the choice, and the next start-up reads it back
// without timing anything; the file cache persists across instances.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autotuneMatmul, tuneKey } from '../../../kernels/gpu/autotune.ts';
import type { GpuContext } from '../../../kernels/gpu/context.ts';
import { fileTuneCache } from '../../../kernels/node/tune-cache-file.ts';
import { candidatesFor, type MatmulTuning, tuningName } from '../../../kernels/ops/matmul-tuning.ts';
import { nodeContext } from '../../helpers/node-context.ts';
import { memoryTuneCache } from '../../helpers/tune-cache-memory.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await nodeContext();
});

// Small shapes keep the timing short; one is not vec4-compatible and must be ignored.
const SHAPES = [
  { M: 64, K: 32, N: 64 },
  { M: 64, K: 64, N: 32, transB: true },
  { M: 32, K: 64, N: 64, transA: true },
  { M: 5, K: 3, N: 7 },
];
const SMALL: readonly MatmulTuning[] = [
  { family: 'register', rows: 8, cols: 8, wgX: 4, wgY: 4 },
  { family: 'register', rows: 4, cols: 4, wgX: 8, wgY: 4 },
  { family: 'shared', rows: 4, cols: 4, wgX: 4, wgY: 4, tileK: 8 },
];

describe('autotuneMatmul', () => {
  it('times the default candidates once, then answers from the cache', async () => {
    const entries = new Map<string, string>();
    const cache = memoryTuneCache(entries);
    const lines: string[] = [];
    const first = await autotuneMatmul(ctx, SHAPES, { cache, log: (line) => lines.push(line) });
    console.log(lines.join('\n'));
    expect(first.measured).toBeGreaterThan(0);
    const names = candidatesFor(ctx).map(tuningName);
    for (const choice of first.choices.values()) expect(names).toContain(tuningName(choice));
    expect(entries.size).toBe(first.choices.size);

    const second = await autotuneMatmul(ctx, SHAPES, { cache });
    expect(second.measured).toBe(0);
    for (const shape of SHAPES) expect(second.pick(shape)).toEqual(first.pick(shape));
  });

  it('chooses per transpose class when asked, and retunes over a corrupt entry', async () => {
    const entries = new Map<string, string>();
    const cache = memoryTuneCache(entries);
    const options = { cache, candidates: SMALL, granularity: 'class' as const };
    const first = await autotuneMatmul(ctx, SHAPES, options);
    expect([...first.choices.keys()].sort()).toEqual(['NN', 'NT', 'TN']);
    for (const choice of first.choices.values()) expect(SMALL).toContain(choice);

    const nnKey = tuneKey(ctx, 'NN', SHAPES[0] as (typeof SHAPES)[number]);
    expect(entries.has(nnKey)).toBe(true);
    entries.set(nnKey, '{not json');
    const second = await autotuneMatmul(ctx, SHAPES, options);
    expect(second.measured).toBeGreaterThan(0); // NN timed again, NT and TN from the cache
    expect(SMALL).toContain(second.choices.get('NN'));
    expect(JSON.parse(entries.get(nnKey) as string)).toEqual(second.choices.get('NN'));
  });
});

describe('fileTuneCache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'potluck-tune-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('persists across instances, keeps concurrent writes, and reads a corrupt file as empty', async () => {
    const path = join(dir, 'nested', 'tune.json');
    const cache = fileTuneCache(path);
    expect(await cache.get('a')).toBeUndefined();
    await Promise.all([cache.set('a', '1'), cache.set('b', '2')]);
    const again = fileTuneCache(path);
    expect(await again.get('a')).toBe('1');
    expect(await again.get('b')).toBe('2');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: '1', b: '2' });

    await writeFile(path, 'garbage');
    expect(await again.get('a')).toBeUndefined();
    await again.set('c', '3');
    expect(await fileTuneCache(path).get('c')).toBe('3');
  });
});
