// AdamW (torch.optim.AdamW semantics: decoupled weight decay) over a flat buffer of n floats,
// a thread per vec4, preceded by global-norm clipping of the gradients:
//   scale = max_norm > 0 ? min(1, max_norm / (norm + 1e-6)) : 1     (torch's clip_grad_norm_)
//   g = grads * scale
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2        OVERWRITE m, v
//   params -= lr * ((m / c1) / (sqrt(v / c2) + eps) + wd * params)    UPDATES params in place
// where c1 = 1 - beta1^step and c2 = 1 - beta2^step are computed on the CPU in f64, and wd
// applies to elements [0, decay_end) only (kernels/gpt/layout.ts puts decayed tensors first).
// grads are read, never written. norm is global_norm.wgsl's result[0].
// CPU reference: kernels/reference/adamw.ts (with gradScale = the clip scale).

struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  correction1: f32, // 1 - beta1^step
  correction2: f32, // 1 - beta2^step
  max_norm: f32, // <= 0: no clipping
  decay_end: u32, // elements [0, decay_end) are decayed
  n4: u32, // vec4s
}

@group(0) @binding(0) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<uniform> hyper: Hyper;

// The entry point is grid_common.wgsl's (prepended): a thread per vec4.
fn thread_count() -> u32 {
  return hyper.n4;
}

fn run_thread(i: u32) {
  var scale = 1.0;
  if (hyper.max_norm > 0.0) {
    scale = min(1.0, hyper.max_norm / (norm[0] + 1e-6));
  }
  let g = grads[i] * scale;
  let mi = hyper.beta1 * m[i] + (1.0 - hyper.beta1) * g;
  let vi = hyper.beta2 * v[i] + (1.0 - hyper.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let update = (mi / hyper.correction1) / (sqrt(vi / hyper.correction2) + hyper.eps);
  let element = vec4(i * 4u) + vec4(0u, 1u, 2u, 3u);
  let decay = select(vec4(0.0), vec4(hyper.weight_decay), element < vec4(hyper.decay_end));
  let p = params[i];
  params[i] = p - hyper.lr * (update + decay * p);
}
