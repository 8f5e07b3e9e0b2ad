// `npm run eval -- --checkpoint DIR --tokens FILE`: mean cross-entropy (nats per token) of a
// checkpoint on a file of raw little-endian uint16 tokens, printed as {"loss", "tokens"}.
//
// Every token after the first is predicted exactly once: the file is cut into consecutive
// windows of contextLength + 1 tokens that overlap by one (each window's last target is the
// next window's first input), and the leftover tail is scored as one shorter window. Full
// windows go through the GPU in batches; the stragglers through a batch-of-one model.

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { readRawTokens } from '../../../relay/datasets/raw-tokens.ts';
import { GpuGpt } from '../../gpt/gpu-gpt.ts';
import type { GpuContext } from '../../gpu/context.ts';
import { defaultTuning } from '../../ops/matmul-tuning.ts';
import { readCheckpoint } from '../checkpoint-files.ts';
import { openNodeContext } from '../open-context.ts';

const HELP = `Usage: npm run eval -- --checkpoint DIR --tokens FILE [--batch N]

Prints the mean cross-entropy (nats per predicted token) of the checkpoint in DIR
(model.safetensors + config.json, as \`npm run train -- --out DIR\` writes) on FILE, raw
little-endian uint16 tokens, as one JSON line: {"loss": ..., "tokens": ...}.

  --batch N   windows per GPU batch (default 16)`;

export interface EvalResult {
  /** Mean cross-entropy in nats over `tokens` predictions. */
  loss: number;
  /** Tokens predicted: the file's length minus one. */
  tokens: number;
}

/** Windows of span tokens that overlap by one, the last one possibly shorter. */
export function evaluationWindows(
  length: number,
  contextLength: number,
): Array<{ start: number; seqLen: number }> {
  const windows = [];
  for (let start = 0; start + 1 < length; start += contextLength) {
    windows.push({ start, seqLen: Math.min(contextLength, length - 1 - start) });
  }
  return windows;
}

async function scoreWindows(
  ctx: GpuContext,
  config: GptConfig,
  params: Float32Array,
  tokens: Uint16Array,
  windows: ReadonlyArray<{ start: number; seqLen: number }>,
  B: number,
): Promise<number> {
  if (windows.length === 0) return 0;
  const T = windows[0]?.seqLen ?? 1;
  const model = new GpuGpt(ctx, config, { B, T, matmul: defaultTuning(ctx.adapter) });
  model.setParams(params);
  let sum = 0;
  try {
    for (let i = 0; i < windows.length; i += B) {
      const inputs = new Uint32Array(B * T);
      const targets = new Uint32Array(B * T);
      for (let b = 0; b < B; b++) {
        const { start } = windows[i + b] as { start: number };
        inputs.set(tokens.subarray(start, start + T), b * T);
        targets.set(tokens.subarray(start + 1, start + 1 + T), b * T);
      }
      // evaluate() returns the mean over B * T predictions.
      sum += (await model.evaluate(inputs, targets)) * B * T;
    }
  } finally {
    model.destroy();
  }
  return sum;
}

export async function evaluateTokens(
  ctx: GpuContext,
  config: GptConfig,
  params: Float32Array,
  tokens: Uint16Array,
  batch = 16,
): Promise<EvalResult> {
  for (const [i, token] of tokens.entries()) {
    if (token >= config.vocabSize)
      throw new RangeError(`token ${i} is ${token}, outside the vocabulary of ${config.vocabSize}`);
  }
  if (tokens.length < 2) throw new RangeError('the token file needs at least 2 tokens to predict one');
  const windows = evaluationWindows(tokens.length, config.contextLength);
  const full = windows.filter((w) => w.seqLen === config.contextLength);
  const batched = full.length - (full.length % batch);
  const tail = windows.filter((w) => w.seqLen !== config.contextLength);
  let sum = await scoreWindows(ctx, config, params, tokens, full.slice(0, batched), batch);
  sum += await scoreWindows(ctx, config, params, tokens, full.slice(batched), 1);
  sum += await scoreWindows(ctx, config, params, tokens, tail, 1);
  const predicted = tokens.length - 1;
  return { loss: sum / predicted, tokens: predicted };
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      checkpoint: { type: 'string' },
      tokens: { type: 'string' },
      batch: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.checkpoint || !values.tokens)
    throw new Error(`--checkpoint and --tokens are required\n\n${HELP}`);
  const batch = values.batch === undefined ? 16 : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`--batch must be a positive integer, got ${values.batch}`);
  const checkpoint = await readCheckpoint(values.checkpoint);
  const tokens = await readRawTokens(values.tokens, checkpoint.config.vocabSize);
  const ctx = await openNodeContext('eval');
  try {
    const result = await evaluateTokens(ctx, checkpoint.config, checkpoint.params, tokens, batch);
    console.log(JSON.stringify(result));
  } finally {
    ctx.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
