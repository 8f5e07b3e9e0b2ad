// Error feedback: residual = β · (acc − what was sent), so the next round carries what this one
// dropped or rounded away (all of it at β = 1; SparseLoCo decays it, so stale values fade).
// SCATTER = false sets residual = β · acc; SCATTER = true then writes β · (acc − sent) at the
// kept indices, with the decoded values uploaded from the CPU decoder, so the residual uses
// exactly the floats every peer summed. A product of a difference: no fused multiply-add can
// change its bits, so the CPU reference (kernels/reference/inner-loop.ts) gets the same.

@group(0) @binding(0) var<storage, read_write> residual: array<f32>;
@group(0) @binding(1) var<storage, read> acc: array<f32>;
@group(0) @binding(2) var<storage, read> kept_index: array<u32>;
@group(0) @binding(3) var<storage, read> sent: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override SCATTER: bool = false;

// The entry point is compress_stream.wgsl's (prepended): over the k kept values when
// SCATTER, else over all n.
fn stream_count() -> u32 {
  if (SCATTER) {
    return params.k;
  }
  return params.n;
}

fn stream_item(j: u32) {
  if (SCATTER) {
    let i = kept_index[j];
    residual[i] = params.error_decay * (acc[i] - sent[j]);
  } else {
    residual[j] = params.error_decay * acc[j];
  }
}
