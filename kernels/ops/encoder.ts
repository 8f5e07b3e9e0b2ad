// Embedding builders: forward out (B, T, C) = wte[token] + wpe[t]; backward overwrites dwpe
// and accumulates into dwte, deterministically, from a per-token bucket index that the CPU
// builds each step from the tokens it uploads anyway (no atomics, no float reordering).

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { gridDispatch, requireVec4, withGridEntry } from '../gpu/grid.ts';
import backwardKernel from '../wgsl/encoder_backward.wgsl?raw';
import forwardKernel from '../wgsl/encoder_forward.wgsl?raw';

const forward = { name: 'encoder_forward', source: withGridEntry(forwardKernel) };
const backward = { name: 'encoder_backward', source: withGridEntry(backwardKernel) };

const FORWARD_WORKGROUP_SIZE = 256;
/**
 * Smaller: a frequent token's C/4 threads walk long buckets, and small workgroups let the
 * other cores take the rest of the vocabulary meanwhile.
 */
const BACKWARD_WORKGROUP_SIZE = 64;

export interface EncoderShape {
  readonly B: number;
  readonly T: number;
  /** A multiple of 4. */
  readonly C: number;
  readonly V: number;
}

export interface TokenBuckets {
  /** (V + 1): token v's positions are positions[offsets[v] .. offsets[v + 1]). */
  readonly offsets: Uint32Array;
  /** (B * T): flat positions b * T + t grouped by token, increasing within a token. */
  readonly positions: Uint32Array;
}

/** Stable counting sort of positions by token id. Throws RangeError on a token outside [0, V). */
export function bucketTokens(tokens: ArrayLike<number>, V: number): TokenBuckets {
  const offsets = new Uint32Array(V + 1);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as number;
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new RangeError(`token ${token} at position ${i} is outside the vocabulary [0, ${V})`);
    }
    (offsets[token + 1] as number)++;
  }
  for (let v = 0; v < V; v++) offsets[v + 1] = (offsets[v + 1] as number) + (offsets[v] as number);
  const next = offsets.slice(0, V);
  const positions = new Uint32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as number;
    positions[next[token] as number] = i;
    (next[token] as number)++;
  }
  return { offsets, positions };
}

/** The per-step token inputs of the embedding, in buffers made once. */
export class EncoderInputs {
  /** (B * T) u32 token ids. */
  readonly tokens: GPUBuffer;
  /** (V + 1) u32, see TokenBuckets. */
  readonly offsets: GPUBuffer;
  /** (B * T) u32, see TokenBuckets. */
  readonly positions: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    readonly shape: EncoderShape,
    label = 'encoder',
  ) {
    const n = shape.B * shape.T;
    this.tokens = ctx.createStorage(`${label}:tokens`, n * 4); // (B, T)
    this.offsets = ctx.createStorage(`${label}:offsets`, (shape.V + 1) * 4); // (V + 1)
    this.positions = ctx.createStorage(`${label}:positions`, n * 4); // (B * T)
  }

  /** Uploads this step's (B * T) tokens and their buckets; call before running the dispatches. */
  writeStepInputs(tokens: Uint32Array): void {
    const n = this.shape.B * this.shape.T;
    if (tokens.length !== n) throw new RangeError(`expected ${n} tokens, got ${tokens.length}`);
    const { offsets, positions } = bucketTokens(tokens, this.shape.V);
    this.ctx.write(this.tokens, tokens);
    this.ctx.write(this.offsets, offsets);
    this.ctx.write(this.positions, positions);
  }
}

/** out (B, T, C) = wte[tokens] + wpe[t]. Overwrites out. */
export function encoderForward(
  ctx: GpuContext,
  t: { out: Tensor; wte: Tensor; wpe: Tensor },
  inputs: EncoderInputs,
  label = 'encoder',
): Dispatch[] {
  const { B, T, C } = inputs.shape;
  requireVec4(label, C);
  const c4 = C / 4;
  const params = ctx.createUniform(`${label}:params`, [B * T, T, c4]);
  return [
    gridDispatch(
      ctx,
      `${label}:forward`,
      forward,
      [t.out, inputs.tokens, t.wte, t.wpe, params],
      B * T * c4,
      FORWARD_WORKGROUP_SIZE,
    ),
  ];
}

/** dwpe (T, C) = sum over b of dout (overwrites); dwte (V, C) += bucket sums (accumulates). */
export function encoderBackward(
  ctx: GpuContext,
  t: { dwte: Tensor; dwpe: Tensor; dout: Tensor },
  inputs: EncoderInputs,
  label = 'encoder',
): Dispatch[] {
  const { B, T, C, V } = inputs.shape;
  requireVec4(label, C);
  const c4 = C / 4;
  const params = ctx.createUniform(`${label}:backward:params`, [B, T, c4, V]);
  return [
    gridDispatch(
      ctx,
      `${label}:backward`,
      backward,
      [t.dwte, t.dwpe, t.dout, inputs.offsets, inputs.positions, params],
      (T + V) * c4,
      BACKWARD_WORKGROUP_SIZE,
    ),
  ];
}
