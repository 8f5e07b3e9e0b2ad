// `npm run bench:relay-round`: what one round costs the relay now that it computes what it
// commits: verifying and decoding every member's frame, the robust aggregate and outer step,
// and scoring each contribution alone and the new state on its held-out batch (the CPU
// reference model). Measured at 16 members (the default group cap) on the default model, with
// CPU-built frames in the run's format; 256 and 1,024 members are rounds of many 16-member
// groups (the next issue spreads aggregation over groups), so their cost is the measured
// per-group cost times the groups, printed as such. `--json` ends with one line.
import { parseArgs } from 'node:util';
import { maxFrameBytesInRunFormat } from '../../protocol/frame-format.ts';
import { initParams } from '../../protocol/init-params.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { deriveSeed } from '../../protocol/random-k.ts';
import { decodeContribution, roundUpdate } from '../../protocol/round-update.ts';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { screenContributions } from '../../relay/rounds/usefulness.ts';
import { validationLoss } from '../../relay/rounds/validation-loss.ts';
import { cpuFrame } from '../helpers/cpu-frame.ts';
import { scriptedVector } from '../helpers/scripted-volunteer.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, members: { type: 'string' } } });
const members = Number(values.members ?? 16);
const config = DEFAULT_RUN;
const layout = paramLayout(config.model);
const round = 0;
const seed = deriveSeed(config.seed, round);
const state = {
  weights: initParams(config.model, config.seed),
  momentum: new Float32Array(layout.totalFloats),
};
const tokens = config.inner.batchSize * config.inner.seqLen * config.round.innerSteps;
const expected = { round, seed, totalFloats: layout.totalFloats, compression: config.round.compression };

const frames = Array.from({ length: members }, (_, i) => ({
  peer: `peer-${String(i).padStart(4, '0')}`,
  tokens,
  frame: cpuFrame(
    scriptedVector(layout.totalFloats, `peer-${i}`, round),
    config.round.compression,
    round,
    seed,
  ),
}));
// A held-out batch of the default size, from a synthetic token stream (the cost does not depend on the text).
const valTokens = Uint16Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % config.model.vocabSize);
const validate = validationLoss(config, valTokens);
if (!validate) throw new Error('the guard is off in the default run');

const time = async (f: () => unknown | Promise<unknown>) => {
  const start = performance.now();
  await f();
  return performance.now() - start;
};
const ms = {
  hashAndDecode: await time(async () => {
    for (const f of frames) {
      await sha256Hex(f.frame);
      decodeContribution(f.frame, expected);
    }
  }),
  aggregateAndStep: 0,
  stateHash: 0,
  scoreContributions: 0,
  scoreState: 0,
};
let next: Float32Array = state.weights;
ms.aggregateAndStep = await time(() => {
  const update = roundUpdate(state.weights, state.momentum, frames, expected, layout, config.round);
  if (!update.ok) throw new Error(update.reason);
  next = update.weights;
});
ms.stateHash = await time(() => modelHash(next, state.momentum));
const base = validate(state.weights);
ms.scoreContributions = await time(() =>
  screenContributions(state, frames, expected, layout, config.round, validate, base),
);
ms.scoreState = await time(() => validate(next));
const perGroupMs = Object.values(ms).reduce((a, b) => a + b, 0);
const frameBytes = frames[0]?.frame.byteLength ?? 0;
const rows = [16, 256, 1024].map((n) => {
  const groups = Math.ceil(n / members);
  return {
    members: n,
    ingressMB: (n * frameBytes) / 1e6,
    cpuSeconds: (groups * perGroupMs) / 1000,
    measured: n === members,
  };
});
const header = `default model: ${layout.paramCount.toLocaleString()} parameters, frame ${frameBytes.toLocaleString()} bytes (at most ${maxFrameBytesInRunFormat(layout.totalFloats, config.round.compression).toLocaleString()}), ${config.guard.validationSequences} held-out sequences`;
const parts = Object.entries(ms).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`);
const lines = rows.map((r) => {
  const how = r.measured ? 'measured' : `${Math.ceil(r.members / members)} groups x measured`;
  return `| ${r.members.toLocaleString()} | ${r.ingressMB.toFixed(1)} MB | ${r.cpuSeconds.toFixed(1)} s (${how}) |`;
});
process.stdout.write(
  [
    header,
    `one group of ${members}: ${parts.join(', ')}`,
    '',
    '| members | frames in per round | relay CPU per round |',
    '| ---: | ---: | ---: |',
    ...lines,
    '',
  ].join('\n'),
);
if (values.json) process.stdout.write(`${JSON.stringify({ frameBytes, groupMs: ms, rows })}\n`);
