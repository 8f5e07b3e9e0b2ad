// Our GPT-2, written a second time with plain tfjs ops, so the benchmark can time a full
// training step of the same model on tfjs-backend-webgpu: same parameter names and shapes
// (protocol/param-layout.ts, Conv1D weights [in, out]), same initial weights for the same seed
// (protocol/init-params.ts), same optimizer step (global-norm clip, then AdamW, as
// kernels/reference/adamw.ts). Written as a tfjs user would, with tfjs's own ops, so that
// what is timed is tfjs, not a port of our kernels.
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { DEFAULT_TRAIN, type TrainConfig } from '../../../kernels/train/config.ts';
import { type GptConfig, LAYERNORM_EPS, validateConfig } from '../../../protocol/gpt-config.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { blockNames, LNF_BIAS, LNF_WEIGHT, paramLayout, WPE, WTE } from '../../../protocol/param-layout.ts';
import type { Tfjs } from './tfjs-node-webgpu.ts';

/** The optimizer settings the step uses; a constant learning rate (no schedule in a benchmark). */
export type TfjsOptim = Pick<
  TrainConfig,
  'learningRate' | 'beta1' | 'beta2' | 'eps' | 'weightDecay' | 'gradClip'
>;

export interface TfjsGpt {
  readonly config: GptConfig;
  readonly optim: TfjsOptim;
  /** Every parameter, by its Hugging Face name. */
  readonly params: ReadonlyMap<string, Variable>;
  /** Parameter count (as paramLayout counts it, padding excluded). */
  readonly paramCount: number;
  /** Frees the parameters, the optimizer's moments and the cached masks. */
  dispose(): void;
}

/** Internals the training step needs; kept off the public interface. */
interface TfjsGptState extends TfjsGpt {
  readonly tf: Tfjs;
  /** Weight matrices and embeddings: the tensors AdamW decays. */
  readonly decayed: readonly Variable[];
  readonly optimizer: ReturnType<Tfjs['train']['adam']>;
  /** Additive causal masks (1, 1, T, T), by T. */
  readonly masks: Map<number, Tensor>;
}

/** tfjs names variables process-wide; a prefix per model keeps two models apart. */
let nextModelId = 0;

/**
 * A tfjs GPT with GPT-2's initialisation from `seed` (the weights our model gets from the same
 * seed), or with the given flat parameters (layout of protocol/param-layout.ts).
 */
export function createTfjsGpt(
  tf: Tfjs,
  config: GptConfig,
  seed: number | Float32Array,
  optim: TfjsOptim = DEFAULT_TRAIN,
): TfjsGpt {
  validateConfig(config);
  const layout = paramLayout(config);
  const flat = typeof seed === 'number' ? initParams(config, seed) : seed;
  if (flat.length !== layout.totalFloats) {
    throw new RangeError(`params has ${flat.length} floats, layout needs ${layout.totalFloats}`);
  }
  const prefix = `potluck${nextModelId++}/`;
  const params = new Map<string, Variable>();
  const decayed: Variable[] = [];
  for (const spec of layout.tensors) {
    const values = flat.subarray(spec.offset, spec.offset + spec.size);
    const variable = tf.tidy(() => tf.variable(tf.tensor(values, [...spec.shape]), true, prefix + spec.name));
    params.set(spec.name, variable);
    if (spec.decay) decayed.push(variable);
  }
  const optimizer = tf.train.adam(optim.learningRate, optim.beta1, optim.beta2, optim.eps);
  const masks = new Map<number, Tensor>();
  const state: TfjsGptState = {
    tf,
    config,
    optim,
    params,
    paramCount: layout.paramCount,
    decayed,
    optimizer,
    masks,
    dispose() {
      for (const v of params.values()) v.dispose();
      for (const m of masks.values()) m.dispose();
      optimizer.dispose();
    },
  };
  return state;
}

/** The parameters as one flat buffer in the layout of protocol/param-layout.ts (padding zero). */
export async function readTfjsParams(model: TfjsGpt): Promise<Float32Array> {
  const layout = paramLayout(model.config);
  const flat = new Float32Array(layout.totalFloats);
  for (const spec of layout.tensors) flat.set(await param(model, spec.name).data(), spec.offset);
  return flat;
}

function param(model: TfjsGpt, name: string): Variable {
  const v = model.params.get(name);
  if (!v) throw new RangeError(`no parameter ${name}`);
  return v;
}

/** 0 where key <= query, -1e9 above the diagonal: added to the scores before softmax. */
function causalMask(model: TfjsGptState, T: number): Tensor {
  let mask = model.masks.get(T);
  if (!mask) {
    const { tf } = model;
    // keep(): made inside a training step's tidy, but cached across steps.
    mask = tf.keep(
      tf.tidy(() =>
        tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9), [1, 1, T, T]),
      ),
    );
    model.masks.set(T, mask);
  }
  return mask;
}

function layerNorm(tf: Tfjs, x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LAYERNORM_EPS))), weight), bias);
}

/** GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
function gelu(tf: Tfjs, x: Tensor): Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** x (BT, K) @ weight (K, N) + bias (N), bias fused into the matmul as tfjs offers. */
function linear(tf: Tfjs, x: Tensor, weight: Tensor, bias: Tensor): Tensor2D {
  return tf.fused.matMul({ a: x as Tensor2D, b: weight as Tensor2D, bias }) as Tensor2D;
}

/** Next-token logits (BT, V) for int32 tokens (B, T). */
export function tfjsGptLogits(model: TfjsGpt, tokens: Tensor2D): Tensor2D {
  const m = model as TfjsGptState;
  const { tf } = m;
  const { dModel: C, nHead: H, nLayer: L } = m.config;
  const [B = 0, T = 0] = tokens.shape;
  const D = C / H;
  const wte = param(m, WTE);

  // (B, T, C) token + position embeddings, kept as (BT, C) for the linear layers.
  let x: Tensor = tf.reshape(tf.add(tf.gather(wte, tokens), tf.slice(param(m, WPE), [0, 0], [T, C])), [
    B * T,
    C,
  ]);
  const mask = causalMask(m, T);
  const heads = (t: Tensor) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // (B, H, T, D)
  for (let l = 0; l < L; l++) {
    const n = blockNames(l);
    const qkv = linear(
      tf,
      layerNorm(tf, x, param(m, n.ln1w), param(m, n.ln1b)),
      param(m, n.qkvw),
      param(m, n.qkvb),
    );
    const [q, k, v] = tf.split(qkv, 3, 1).map(heads) as [Tensor, Tensor, Tensor]; // (B, H, T, D) each
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask); // (B, H, T, T)
    const y = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [B * T, C]); // (BT, C)
    x = tf.add(x, linear(tf, y, param(m, n.attprojw), param(m, n.attprojb)));
    const h = gelu(
      tf,
      linear(tf, layerNorm(tf, x, param(m, n.ln2w), param(m, n.ln2b)), param(m, n.fcw), param(m, n.fcb)),
    );
    x = tf.add(x, linear(tf, h, param(m, n.fcprojw), param(m, n.fcprojb))); // (BT, C)
  }
  const xf = layerNorm(tf, x, param(m, LNF_WEIGHT), param(m, LNF_BIAS));
  return tf.matMul(xf as Tensor2D, wte, false, true); // (BT, V): the head is tied to wte
}

/** Mean cross-entropy of next-token prediction; tokens and targets are int32 (B, T). */
export function tfjsGptLoss(model: TfjsGpt, tokens: Tensor2D, targets: Tensor2D): Scalar {
  const { tf } = model as TfjsGptState;
  const onehot = tf.oneHot(tf.reshape(targets, [-1]), model.config.vocabSize, 1, 0, 'float32'); // (BT, V)
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(tfjsGptLogits(model, tokens))), -1))) as Scalar;
}

/**
 * One optimizer step on (tokens, targets): forward, backward, global-norm clip, AdamW.
 * Returns the loss before the update; reading it waits for the whole step, since tfjs submits
 * its commands in order and the read is recorded after the update.
 */
export function tfjsTrainStep(model: TfjsGpt, tokens: Tensor2D, targets: Tensor2D): Scalar {
  const m = model as TfjsGptState;
  const { tf, optim } = m;
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tfjsGptLoss(m, tokens, targets), [...m.params.values()]);
    if (optim.gradClip > 0) {
      // tfjs-core has no clipByGlobalNorm; this is torch's clip_grad_norm_ (see
      // kernels/reference/gradnorm.ts). stack, not addN: addN binds every input at once and
      // WebGPU caps storage bindings per shader; concat (under stack) splits the inputs.
      const norm = tf.sqrt(tf.sum(tf.stack(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
      const scale = tf.minimum(1, tf.div(optim.gradClip, tf.add(norm, 1e-6)));
      for (const name of Object.keys(grads)) grads[name] = tf.mul(grads[name] as Tensor, scale);
    }
    // tf.train.adam is plain Adam; AdamW's decoupled decay p -= lr * wd * p is applied to the
    // decayed tensors by hand, as torch.optim.AdamW does before its Adam update.
    const keep = 1 - optim.learningRate * optim.weightDecay;
    for (const v of m.decayed) v.assign(tf.mul(v, keep));
    m.optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    return value;
  });
}
