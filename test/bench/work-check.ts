// `npm run bench:work-check`: what checking one contribution costs the relay, against the work
// it checks, measured in the same run. The volunteer's round runs on the GPU engine (Dawn; on
// this machine SwiftShader), then the relay's check redoes it on the CPU from the volunteer's
// starting state (relay/rounds/work-check.ts: the redo and the state-alone baseline), on the
// default model with `--steps` inner steps (default 2; the ratio does not depend on it).
// Prints seconds per inner step for both, their ratio, what a check costs at the run's H, and
// the verdict (the check must pass). `--json` ends with one line.
import { parseArgs } from 'node:util';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { LocalVolunteerEngine } from '../../kernels/round/volunteer-engine.ts';
import { initParams } from '../../protocol/init-params.ts';
import { decodeLocalState } from '../../protocol/local-state-file.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { checkWork } from '../../relay/rounds/work-check.ts';
import { memoryTuneCache } from '../helpers/tune-cache-memory.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, steps: { type: 'string' } } });
const steps = Number(values.steps ?? 2);
const config = { ...DEFAULT_RUN, round: { ...DEFAULT_RUN.round, innerSteps: steps } };
const layout = paramLayout(config.model);
const n = layout.totalFloats;
const { batchSize: B, seqLen: T } = config.inner;
const tokens = Uint16Array.from(
  { length: steps * B * T + 1 },
  (_, i) => (i * 7919 + 13) % config.model.vocabSize,
);
const peerKey = 'B'.repeat(43);
const noiseStream = noiseStreamOf(config.seed, peerKey);
const weights = initParams(config.model, config.seed);
const engine = await LocalVolunteerEngine.create({
  ctx: await openNodeContext('bench-work-check'),
  config,
  initial: { weights, momentum: new Float32Array(n) },
  tuneCache: memoryTuneCache(),
  noiseStream,
  sleep: async () => {},
});
const work = { round: 0, seed: 4242, tokens, innerSteps: steps, learningRate: 3e-3 };
// One warm-up round compiles the pipelines; the measured round follows from its state.
await engine.train(work);
await engine.contribute(work);
const startBytes = await engine.exportLocalState(0);
const start = decodeLocalState(startBytes, n);
if (!start) throw new Error('the engine’s local state does not decode');
const measured = { ...work, round: 1, seed: 4243 };
const gpuStarted = performance.now();
await engine.train(measured);
const frame = await engine.contribute(measured);
const gpuSeconds = (performance.now() - gpuStarted) / 1000;
await engine.destroy();

const cpuStarted = performance.now();
const verdict = checkWork({
  config,
  expected: { round: 1, seed: measured.seed, totalFloats: n, compression: config.round.compression },
  weights,
  start,
  tokens,
  innerSteps: steps,
  learningRate: measured.learningRate,
  noiseStream,
  frame,
});
const checkSeconds = (performance.now() - cpuStarted) / 1000;
const H = DEFAULT_RUN.round.innerSteps;
const row = {
  model: `default (${layout.paramCount} parameters), B ${B} × T ${T}`,
  gpuSecondsPerStep: gpuSeconds / steps,
  checkSecondsPerStep: checkSeconds / steps,
  ratio: checkSeconds / gpuSeconds,
  checkSecondsAtH: (checkSeconds / steps) * H,
  verdict: verdict.ok ? `passed (agreement ${verdict.agreement})` : verdict.reason,
};
process.stdout.write(
  [
    `model: ${row.model}, ${steps} inner steps`,
    `volunteer's round on the GPU engine: ${row.gpuSecondsPerStep.toFixed(2)} s per inner step`,
    `relay's check (CPU redo + state-alone baseline): ${row.checkSecondsPerStep.toFixed(2)} s per inner step`,
    `ratio check / work: ${row.ratio.toFixed(1)}x; one check at H = ${H}: ${row.checkSecondsAtH.toFixed(0)} s`,
    `verdict: ${row.verdict}`,
    '',
  ].join('\n'),
);
if (values.json) process.stdout.write(`${JSON.stringify(row)}\n`);
if (!verdict.ok) process.exitCode = 1;
