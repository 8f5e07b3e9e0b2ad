// Error feedback: residual = acc − what was sent, so the next round carries what this one
// dropped or rounded away. SCATTER = false copies acc into residual; SCATTER = true then
// subtracts the decoded values (uploaded from the CPU decoder, so the residual uses exactly
// the floats every peer summed) at the kept indices. One subtraction per value: exact.

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
    residual[i] = acc[i] - sent[j];
  } else {
    residual[j] = acc[j];
  }
}
