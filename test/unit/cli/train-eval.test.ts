// The commands as a user runs them: prepare a small data set from text files, train with
// --out and --json, then evaluate the checkpoint on a raw token file, and check eval's figure
// against the CPU reference model on the same windows.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../kernels/node/checkpoint-files.ts';
import { evaluationWindows } from '../../../kernels/node/cli/eval.ts';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import { readBrownCorpus } from '../../../relay/datasets/brown.ts';

const run = promisify(execFile);
const NODE_ARGS = ['--import', 'tsx', '--import', './kernels/node/raw-loader.mjs'];
const ROOT = new URL('../../../', import.meta.url).pathname;

async function command(script: string, args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, [...NODE_ARGS, script, ...args], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
  return stdout.trim().split('\n');
}

describe('evaluationWindows', () => {
  it('predicts every token after the first exactly once', () => {
    for (const [length, context] of [
      [2, 4],
      [9, 4],
      [10, 4],
      [11, 4],
      [100, 7],
    ] as const) {
      const windows = evaluationWindows(length, context);
      const predicted = windows.flatMap(({ start, seqLen }) =>
        Array.from({ length: seqLen }, (_, i) => start + 1 + i),
      );
      expect(predicted).toEqual(Array.from({ length: length - 1 }, (_, i) => i + 1));
      expect(windows.every((w) => w.seqLen >= 1 && w.seqLen <= context)).toBe(true);
    }
  });
});

describe('npm run prepare-data / train / eval', () => {
  it('trains a tiny model, writes a checkpoint, and evaluates it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'potluck-cli-'));
    // 21 documents: 20 for training, every 20th for validation.
    const docs = readBrownCorpus().slice(0, 21);
    const files = [];
    for (const [i, doc] of docs.entries()) {
      const file = join(dir, `doc${i}.txt`);
      await writeFile(file, doc.text);
      files.push(file);
    }
    const data = join(dir, 'data');
    await command('relay/cli/prepare.ts', ['--out', data, ...files]);

    const out = join(dir, 'checkpoint');
    const lines = await command('kernels/node/cli/train.ts', [
      ...[
        '--preset',
        'tiny',
        '--steps',
        '8',
        '--batch',
        '4',
        '--eval-every',
        '4',
        '--final-eval-batches',
        '4',
      ],
      ...['--data', data, '--out', out, '--json'],
    ]);
    const summary = JSON.parse(lines.at(-1) as string);
    expect(Object.keys(summary).sort()).toEqual([
      'step',
      'tokensPerSec',
      'trainLoss',
      'unigramEntropy',
      'valLoss',
    ]);
    expect(summary.step).toBe(8);
    expect(summary.valLoss).toBeGreaterThan(0);
    expect(summary.valLoss).toBeLessThan(Math.log(256) + 0.5);
    expect(summary.unigramEntropy).toBeGreaterThan(2);
    expect(summary.tokensPerSec).toBeGreaterThan(0);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.model_type).toBe('gpt2');
    // A short raw uint16 token file: 3 full windows of the 32-token context and a tail.
    const tokens = Uint16Array.from({ length: 3 * 32 + 11 }, (_, i) => docs[20]?.text.charCodeAt(i) ?? 32);
    const tokenFile = join(dir, 'tokens.u16');
    await writeFile(tokenFile, new Uint8Array(tokens.buffer));
    const result = JSON.parse(
      (
        await command('kernels/node/cli/eval.ts', [
          '--checkpoint',
          out,
          '--tokens',
          tokenFile,
          '--batch',
          '2',
        ])
      ).at(-1) as string,
    );
    expect(result.tokens).toBe(tokens.length - 1);

    // The same figure from the CPU reference, window by window.
    const checkpoint = await readCheckpoint(out);
    const cpu = new CpuGpt(checkpoint.config, checkpoint.params);
    let sum = 0;
    for (const { start, seqLen } of evaluationWindows(tokens.length, checkpoint.config.contextLength)) {
      const fwd = cpu.forward(
        tokens.subarray(start, start + seqLen),
        tokens.subarray(start + 1, start + 1 + seqLen),
        1,
        seqLen,
      );
      sum += fwd.loss * seqLen;
    }
    console.log(`eval loss ${result.loss} vs CPU reference ${sum / (tokens.length - 1)}`);
    expect(Math.abs(result.loss - sum / (tokens.length - 1))).toBeLessThan(1e-4);
  });
});
