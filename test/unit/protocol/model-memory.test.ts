// The memory figure the volunteer page shows: weights and the optimizer's and compressor's
// copies of them, plus the activations the kernels allocate for a (B, T) batch.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../../protocol/gpt-config.ts';
import {
  FLOAT_BYTES,
  VOLUNTEER_FLOATS_PER_PARAM,
  volunteerMemoryBytes,
} from '../../../protocol/model-memory.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';

describe('volunteerMemoryBytes', () => {
  it('counts seven copies of the padded parameters and the activations of a batch', () => {
    // The default run (8 x 64 tokens): 834,304 floats x 7 x 4 bytes = 23.4 MB of parameters and
    // their copies, 23.7 MB of activations.
    expect(volunteerMemoryBytes(DEFAULT_MODEL, 8, 64)).toBe(47_032_332);
    const params = paramLayout(DEFAULT_MODEL).totalFloats * FLOAT_BYTES * VOLUNTEER_FLOATS_PER_PARAM;
    expect(volunteerMemoryBytes(DEFAULT_MODEL, 8, 64)).toBeGreaterThan(params);
  });

  it('grows with the batch by the activations alone', () => {
    const one = volunteerMemoryBytes(DEFAULT_MODEL, 1, 64);
    const two = volunteerMemoryBytes(DEFAULT_MODEL, 2, 64);
    const three = volunteerMemoryBytes(DEFAULT_MODEL, 3, 64);
    expect(three - two).toBe(two - one);
    expect(two - one).toBeGreaterThan(0);
  });
});
