// The whole model's gradient norm across pipeline stages (protocol/stage-grad-norm.ts), and the
// two messages that carry the stages' sums of squares (protocol/swarm-messages.ts): the norm is
// the unsplit one's, summed in stage order so every peer gets the same bits, and a sum of squares
// that is not a finite number >= 0 is refused by the parser with a typed error, never thrown.
import { expect, it } from 'vitest';
import { globalNorm } from '../../../kernels/reference/gradnorm.ts';
import { wholeModelNorm } from '../../../protocol/stage-grad-norm.ts';
import { parsePeerMessage, parseRelayMessage } from '../../../protocol/swarm-messages.ts';
import { randomFloats } from '../../helpers/compare.ts';

it('is the unsplit norm of the concatenated stages, the same bits whoever adds them in stage order', () => {
  const whole = Float64Array.from(randomFloats(1000, 3, 0.5));
  const cuts = [0, 123, 600, 1000];
  const sums = cuts.slice(1).map((end, s) => {
    const part = whole.subarray(cuts[s], end);
    return part.reduce((sum, x) => sum + x * x, 0);
  });
  expect(wholeModelNorm(sums)).toBeCloseTo(globalNorm(whole), 12);
  expect(wholeModelNorm([...sums])).toBe(wholeModelNorm(sums));
  expect(wholeModelNorm([0, 0])).toBe(0);
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY])
    expect(() => wholeModelNorm([1, bad])).toThrow(RangeError);
});

const norm = (sumOfSquares: string) =>
  `{"type":"stage-norm","step":3,"attempt":7,"stage":1,"sumOfSquares":${sumOfSquares}}`;
const norms = (list: string) => `{"type":"stage-norms","step":3,"attempt":7,"sumsOfSquares":${list}}`;

it('takes a stage-norm and a stage-norms of finite sums of squares >= 0', () => {
  expect(parsePeerMessage(norm('2.5'))).toEqual({
    ok: true,
    value: { type: 'stage-norm', step: 3, attempt: 7, stage: 1, sumOfSquares: 2.5 },
  });
  expect(parseRelayMessage(norms('[0, 1e-30, 4.25]'))).toMatchObject({
    ok: true,
    value: { sumsOfSquares: [0, 1e-30, 4.25] },
  });
});

it('refuses a sum of squares that is negative, infinite, not a number, or a list too long or empty', () => {
  // JSON has no NaN or Infinity: a peer sends them as strings, null, or a literal that overflows.
  for (const bad of ['-1', '1e999', '-1e999', '"NaN"', 'null', '"3"', '[]'])
    expect(parsePeerMessage(norm(bad))).toMatchObject({ ok: false, error: { code: 'ERR_SWARM_SCHEMA' } });
  expect(parsePeerMessage(norm('NaN'))).toMatchObject({ ok: false, error: { code: 'ERR_SWARM_JSON' } });
  for (const bad of ['[]', '[1, -0.5]', '[1e999]', `[${new Array(9).fill(1).join(',')}]`, '[null]'])
    expect(parseRelayMessage(norms(bad))).toMatchObject({ ok: false, error: { code: 'ERR_SWARM_SCHEMA' } });
  // A stage past the largest pipeline, an attempt past 32 bits.
  expect(parsePeerMessage(norm('1').replace('"stage":1', '"stage":8'))).toMatchObject({ ok: false });
  expect(parsePeerMessage(norm('1').replace('"attempt":7', '"attempt":4294967296'))).toMatchObject({
    ok: false,
  });
});
