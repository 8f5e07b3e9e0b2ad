// dbias (N) = column sums of dout (M, N) [+ dbias]: the bias half of the linear layer's backward
// pass (the other two halves are matmul_forward.wgsl with transposes, see kernels/ops/matmul.ts).
//
// Deterministic by construction, no atomics: a workgroup owns WG_X columns; invocation (x, y)
// sums rows y, y + WG_Y, y + 2 WG_Y, ... of its column in order, then the WG_Y partial sums are
// folded by a fixed tree in workgroup memory. WG_Y must be a power of two. With WG_Y = 1 there
// is no tree and no barrier at all, which is what software adapters want (a barrier there
// costs more than the whole column loop); GPUs want WG_Y > 1 to spread long columns.

struct Shape {
  M: u32,
  N: u32,
}

@group(0) @binding(0) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<uniform> shape: Shape;

override ACCUMULATE: bool = false;
override WG_X: u32 = 64u;
override WG_Y: u32 = 1u;

var<workgroup> partial: array<f32, WG_X * WG_Y>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x * WG_X + lid.x;
  // Columns past N sum a clamped column and are never written: every invocation must reach the
  // barriers below.
  let column = min(n, shape.N - 1u);
  var sum = 0.0;
  for (var m = lid.y; m < shape.M; m += WG_Y) {
    sum += dout[m * shape.N + column];
  }
  let slot = lid.y * WG_X + lid.x;
  partial[slot] = sum;
  for (var stride = WG_Y / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid.y < stride) {
      partial[slot] += partial[slot + stride * WG_X];
    }
  }
  if (lid.y == 0u && n < shape.N) {
    var v = partial[lid.x];
    if (ACCUMULATE) {
      v += dbias[n];
    }
    dbias[n] = v;
  }
}
