// The leaderboard's generation loop: the window the model reads (the last contextLength tokens,
// padded after the end), and the whole loop over the CPU reference model against a plain
// re-run of the full text at every step.
import { describe, expect, it } from 'vitest';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { createRng } from '../../../protocol/rng.ts';
import { byteTokenizer } from '../../../protocol/tokenizer.ts';
import { contextWindow } from '../../../web/src/leaderboard/context-window.ts';
import { generate, type NextLogits } from '../../../web/src/leaderboard/generate.ts';
import { sampleToken } from '../../../web/src/leaderboard/sampling.ts';

const TINY: GptConfig = { vocabSize: 256, contextLength: 8, dModel: 16, nLayer: 1, nHead: 2 };

/** The CPU reference as the loop sees a model: B = 1, T = contextLength, padded windows. */
function cpuLogits(model: CpuGpt): NextLogits {
  const { contextLength: T, vocabSize: V } = model.config;
  return async (inputs, last) => {
    expect(inputs.length).toBe(T);
    return Float32Array.from(model.forward(inputs, null, 1, T).logits.subarray(last * V, (last + 1) * V));
  };
}

describe('contextWindow', () => {
  it('pads a short text after its end and reads at its last token', () => {
    const { inputs, last } = contextWindow([5, 6, 7], 6);
    expect([...inputs]).toEqual([5, 6, 7, 0, 0, 0]);
    expect(last).toBe(2);
  });

  it('keeps the last contextLength tokens of a long text', () => {
    const { inputs, last } = contextWindow([1, 2, 3, 4, 5, 6, 7], 4);
    expect([...inputs]).toEqual([4, 5, 6, 7]);
    expect(last).toBe(3);
  });

  it('refuses an empty text and a context length that is not one', () => {
    expect(() => contextWindow([], 4)).toThrow(/at least one token/);
    expect(() => contextWindow([1], 0)).toThrow(/context length must be a positive integer, got 0/);
  });
});

describe('generate', () => {
  // Initial weights are near zero, so every context gives near-uniform logits and the same draws:
  // scaled up, the model's next token depends on what it reads.
  const model = new CpuGpt(
    TINY,
    initParams(TINY, 11).map((w) => 20 * w),
  );

  it('writes what the model predicts from the unpadded text, the window sliding', async () => {
    const prompt = byteTokenizer.encode('The jury');
    const draw = (temperature: number) =>
      generate({
        prompt,
        contextLength: TINY.contextLength,
        count: 12, // past the 8-token context: the window has to slide
        temperature,
        rng: createRng(1),
        nextLogits: cpuLogits(model),
      });
    for (const temperature of [0, 1]) {
      // The same draws from the last TINY.contextLength tokens, each run at its own length.
      const rng = createRng(1);
      const text = [...prompt];
      for (const token of await draw(temperature)) {
        const seen = text.slice(-TINY.contextLength);
        const logits = model.forward(seen, null, 1, seen.length).logits;
        const want = sampleToken(
          logits.subarray((seen.length - 1) * 256, seen.length * 256),
          temperature,
          rng,
        );
        expect(token, `at temperature ${temperature}`).toBe(want);
        text.push(token);
      }
    }
  });

  it('gives the same sample for the same seed and streams every token', async () => {
    const run = (seed: number, onToken?: (generated: readonly number[]) => void) =>
      generate({
        prompt: [65],
        contextLength: TINY.contextLength,
        count: 10,
        temperature: 1,
        rng: createRng(seed),
        nextLogits: cpuLogits(model),
        onToken,
      });
    const streamed: number[] = [];
    const tokens = await run(5, (generated) => streamed.push(generated.length));
    expect(tokens).toEqual(await run(5));
    expect(streamed).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Random bytes from a random model are rarely UTF-8; they still read as text.
    expect(typeof byteTokenizer.decode([...tokens, 0xff, 0xc3])).toBe('string');
  });

  it('stops between tokens when aborted, and refuses a bad temperature before any work', async () => {
    const controller = new AbortController();
    let calls = 0;
    const nextLogits: NextLogits = async (inputs, last) => {
      calls++;
      if (calls === 3) controller.abort(new Error('a newer checkpoint'));
      return cpuLogits(model)(inputs, last);
    };
    const options = {
      prompt: [65],
      contextLength: TINY.contextLength,
      count: 10,
      temperature: 0.8,
      rng: createRng(1),
      nextLogits,
    };
    await expect(generate({ ...options, signal: controller.signal })).rejects.toThrow('a newer checkpoint');
    expect(calls).toBe(3);
    await expect(generate({ ...options, temperature: -1 })).rejects.toThrow(/temperature must be/);
    await expect(generate({ ...options, prompt: [] })).rejects.toThrow(/at least one token/);
    expect(calls).toBe(3);
  });
});
