// Fused softmax + cross-entropy over logits (N, Vp) with targets (N), a thread per row:
//   losses[i] = logsumexp(logits[i, :V]) - logits[i, target[i]]            OVERWRITES losses (N)
//   BACKWARD:  logits[i, v] <- (softmax(logits[i, :V])[v] - (v == target[i])) * grad_scale
//              for v < V, and 0 in the padding columns V <= v < Vp          OVERWRITES logits IN PLACE
// Rows are Vp = V rounded up to a multiple of 4 (or more) floats, read as vec4s: a third
// faster than scalar loads on SwiftShader. Padding columns never enter the softmax (llm.c's
// padded vocabulary: a classifier can pad V to a friendly width).
// In place: the logits are dead once the loss is taken, the gradient has their shape, and at
// GPT-2's vocabulary a second (N, Vp) buffer is the largest allocation of the model. With
// BACKWARD = false (evaluation) the logits are left untouched. grad_scale = 1/N gives the
// gradient of the mean loss. Max-subtracted softmax: stable for any finite logits. A thread
// per row keeps SwiftShader free of barriers; targets outside [0, V) are clamped (they are
// token ids, checked on the CPU). CPU reference: kernels/reference/crossentropy.ts.

struct Params {
  n: u32, // rows
  v: u32, // vocabulary size V: real logits per row
  vp4: u32, // vec4s per row (Vp / 4)
  grad_scale: f32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

override BACKWARD: bool = true;

const LOWEST: f32 = -3.4028234663852886e38;
const LANES = vec4(0u, 1u, 2u, 3u);

// The entry point is grid_common.wgsl's (prepended): a thread per row.
fn thread_count() -> u32 {
  return params.n;
}

fn run_thread(row: u32) {
  let base = row * params.vp4;
  let full = params.v / 4u; // vec4s made only of real logits
  let tail = params.v % 4u; // real logits in the vec4 after them
  let tail_mask = LANES < vec4(tail);

  var vmax = vec4(LOWEST);
  for (var j = 0u; j < full; j++) {
    vmax = max(vmax, logits[base + j]);
  }
  if (tail > 0u) {
    vmax = max(vmax, select(vec4(LOWEST), logits[base + full], tail_mask));
  }
  let m = max(max(vmax.x, vmax.y), max(vmax.z, vmax.w));

  var vsum = vec4(0.0);
  for (var j = 0u; j < full; j++) {
    vsum += exp(logits[base + j] - m);
  }
  if (tail > 0u) {
    vsum += select(vec4(0.0), exp(logits[base + full] - m), tail_mask);
  }
  let sum = (vsum.x + vsum.y) + (vsum.z + vsum.w);

  let target_id = min(targets[row], params.v - 1u);
  // log(sum) + m - logit[target], with the target logit taken relative to the max first.
  losses[row] = log(sum) - (logits[base + target_id / 4u][target_id % 4u] - m);
  if (!BACKWARD) {
    return;
  }
  let inv_sum = 1.0 / sum;
  let scale = params.grad_scale;
  for (var j = 0u; j < params.vp4; j++) {
    let p = exp(logits[base + j] - m) * inv_sum;
    let column = vec4(j * 4u) + LANES;
    let grad = (p - select(vec4(0.0), vec4(1.0), column == vec4(target_id))) * scale;
    logits[base + j] = select(vec4(0.0), grad, column < vec4(params.v));
  }
}
