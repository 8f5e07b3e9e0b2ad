// out (M, N) = op(A) @ op(B) [+ bias] [+ out] for any M, N, K: the fallback when a shape breaks
// the vec4 alignment rules of matmul_forward.wgsl / matmul_forward_shared.wgsl (an operand's
// contiguous axis or N not a multiple of 4, or a buffer offset not 16-byte aligned).
// Same contract and bindings (matmul_common.wgsl, prepended by kernels/ops/matmul.ts), as f32. Each invocation owns a 4x4 block of `out`
// and walks K one step at a time with scalar loads; no workgroup memory, so it runs on every
// adapter. About 2.5x slower than the register family on SwiftShader (1.5 against 4.3 GFLOP/s
// at 1024x128x383 against 1024x128x384); the default model never needs it.

alias Elem = f32;

// op(A)[m][k] for k < K; rows past M are clamped (their outputs are never stored).
fn elemA(m: u32, k: u32) -> f32 {
  let row = min(m, shape.M - 1u);
  if (TRANS_A) {
    return a[k * shape.M + row];
  }
  return a[row * shape.K + k];
}

// op(B)[k][n] for k < K; columns past N are clamped.
fn elemB(k: u32, n: u32) -> f32 {
  let column = min(n, shape.N - 1u);
  if (TRANS_B) {
    return b[column * shape.K + k];
  }
  return b[k * shape.N + column];
}

fn store(m: u32, n: u32, value: f32) {
  if (m < shape.M && n < shape.N) {
    let i = m * shape.N + n;
    var v = value;
    if (HAS_BIAS) {
      v += bias[n];
    }
    if (ACCUMULATE) {
      v += out[i];
    }
    out[i] = v;
  }
}

fn storeRow(m: u32, n0: u32, value: vec4<f32>) {
  store(m, n0, value.x);
  store(m, n0 + 1u, value.y);
  store(m, n0 + 2u, value.z);
  store(m, n0 + 3u, value.w);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  // One k at a time: no tail to mask whatever K is.
  for (var k = 0u; k < shape.K; k++) {
    let bk = vec4<f32>(elemB(k, n0), elemB(k, n0 + 1u), elemB(k, n0 + 2u), elemB(k, n0 + 3u));
    acc0 += elemA(m0, k) * bk;
    acc1 += elemA(m0 + 1u, k) * bk;
    acc2 += elemA(m0 + 2u, k) * bk;
    acc3 += elemA(m0 + 3u, k) * bk;
  }
  storeRow(m0, n0, acc0);
  storeRow(m0 + 1u, n0, acc1);
  storeRow(m0 + 2u, n0, acc2);
  storeRow(m0 + 3u, n0, acc3);
}
