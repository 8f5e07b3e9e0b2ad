// out (M, N) = op(A) @ op(B) [+ bias] [+ out]: the register-blocked family, no workgroup memory.
// A is stored (M, K), or (K, M) when TRANS_A; B is stored (K, N), or (N, K) when TRANS_B.
// The linear layer's backward pass is this same kernel with transposes (dinp = dout @ W^T,
// dW = inp^T @ dout), plus matmul_backward_bias.wgsl; kernels/ops/matmul.ts wires them.
//
// Each invocation owns a (4 * ROW_GROUPS) x (4 * COL_VECS) block of `out` and walks K four at a
// time. A 4x4 piece of op(A) or op(B) is held as a mat4x4 so that one `mat * mat` does 64
// multiply-adds: acc (columns = out rows) += Bk (columns = op(B) rows) * Ak (columns = op(A)
// rows). Transposed operands are loaded along their contiguous axis and flipped with
// transpose(), which costs nothing on SIMD-across-invocations CPUs and little on GPUs.
// There are no workgroup barriers: on SwiftShader (CPU) a barrier switches coroutines and costs
// far more than the re-reads it saves (the shared family measured 3-10x slower there), so this
// family is the one software adapters use; matmul_forward_shared.wgsl is the one for real GPUs.
// Bigger blocks mean fewer loads per multiply-add, which is what SwiftShader's per-lane gathers
// reward: 16x16 per invocation ran ~5 GFLOP/s there, 8x8 ~3.3, 4x4 ~2.3.
// Unrolled by hand on purpose: loops over small register arrays are not unrolled by
// SwiftShader's compiler and were 7x slower. Blocks beyond ROW_GROUPS/COL_VECS sit behind
// `if` on override constants, which the pipeline compiler folds away.
//
// Needs vec4 alignment (kernels/ops/matmul.ts checks it, else uses matmul_forward_scalar.wgsl):
// A's contiguous axis (K, or M when TRANS_A), B's (N, or K when TRANS_B) and N are multiples
// of 4. K itself may be anything when TRANS_A && !TRANS_B (K_ALIGNED = false masks the tail).
// Rows and columns past M and N are clamped on load and skipped on store. Every output is
// summed by one invocation in a fixed order, so results are bit-identical run to run.

struct Shape {
  M: u32,
  N: u32,
  K: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
// N floats; bound to a 16-byte dummy when HAS_BIAS is false.
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> shape: Shape;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
// K is a multiple of 4: no masking of the last 4-deep step.
override K_ALIGNED: bool = true;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
// Rows per invocation = 4 * ROW_GROUPS, columns = 4 * COL_VECS; each in 1..4.
override ROW_GROUPS: u32 = 2u;
override COL_VECS: u32 = 2u;

// op(A) rows m0..m0+3 at depth k0..k0+3; column i is row m0+i (a vec4 over k).
fn loadA(m0: u32, k0: u32) -> mat4x4<f32> {
  let M = shape.M;
  let K = shape.K;
  if (TRANS_A) {
    // (K, M) storage: read four k-rows along m, then transpose.
    let M4 = M / 4u;
    let mv = min(m0, M - 4u) / 4u;
    if (K_ALIGNED) {
      let i = k0 * M4 + mv;
      return transpose(mat4x4<f32>(a[i], a[i + M4], a[i + 2u * M4], a[i + 3u * M4]));
    }
    let z = vec4<f32>();
    return transpose(mat4x4<f32>(
      select(z, a[min(k0, K - 1u) * M4 + mv], k0 < K),
      select(z, a[min(k0 + 1u, K - 1u) * M4 + mv], k0 + 1u < K),
      select(z, a[min(k0 + 2u, K - 1u) * M4 + mv], k0 + 2u < K),
      select(z, a[min(k0 + 3u, K - 1u) * M4 + mv], k0 + 3u < K),
    ));
  }
  let K4 = K / 4u;
  let kv = k0 / 4u;
  return mat4x4<f32>(
    a[min(m0, M - 1u) * K4 + kv],
    a[min(m0 + 1u, M - 1u) * K4 + kv],
    a[min(m0 + 2u, M - 1u) * K4 + kv],
    a[min(m0 + 3u, M - 1u) * K4 + kv],
  );
}

// op(B) rows k0..k0+3 at columns n0..n0+3; column j is row k0+j (a vec4 over n).
fn loadB(n0: u32, k0: u32) -> mat4x4<f32> {
  let N = shape.N;
  let K = shape.K;
  if (TRANS_B) {
    // (N, K) storage: read four n-rows along k, then transpose.
    let K4 = K / 4u;
    let kv = k0 / 4u;
    return transpose(mat4x4<f32>(
      b[min(n0, N - 1u) * K4 + kv],
      b[min(n0 + 1u, N - 1u) * K4 + kv],
      b[min(n0 + 2u, N - 1u) * K4 + kv],
      b[min(n0 + 3u, N - 1u) * K4 + kv],
    ));
  }
  let N4 = N / 4u;
  let nv = min(n0, N - 4u) / 4u;
  if (K_ALIGNED) {
    let i = k0 * N4 + nv;
    return mat4x4<f32>(b[i], b[i + N4], b[i + 2u * N4], b[i + 3u * N4]);
  }
  let z = vec4<f32>();
  return mat4x4<f32>(
    select(z, b[min(k0, K - 1u) * N4 + nv], k0 < K),
    select(z, b[min(k0 + 1u, K - 1u) * N4 + nv], k0 + 1u < K),
    select(z, b[min(k0 + 2u, K - 1u) * N4 + nv], k0 + 2u < K),
    select(z, b[min(k0 + 3u, K - 1u) * N4 + nv], k0 + 3u < K),
  );
}

fn storeRow(m: u32, nv: u32, value: vec4<f32>) {
  if (m < shape.M) {
    let i = m * (shape.N / 4u) + nv;
    var v = value;
    if (ACCUMULATE) {
      v += out[i];
    }
    out[i] = v;
  }
}

// Writes a 4x4 block whose column i is out row m0+i at columns n0..n0+3.
fn storeBlock(m0: u32, n0: u32, block: mat4x4<f32>) {
  if (n0 < shape.N) {
    let nv = n0 / 4u;
    var bv = vec4<f32>();
    if (HAS_BIAS) {
      bv = bias[nv];
    }
    storeRow(m0, nv, block[0] + bv);
    storeRow(m0 + 1u, nv, block[1] + bv);
    storeRow(m0 + 2u, nv, block[2] + bv);
    storeRow(m0 + 3u, nv, block[3] + bv);
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * ROW_GROUPS * 4u;
  let n0 = gid.x * COL_VECS * 4u;
  // c<r><c>: the 4x4 block at row group r, column vec c.
  var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
  var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
  var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
  var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
  for (var k = 0u; k < shape.K; k += 4u) {
    let a0 = loadA(m0, k);
    var a1 = a0; var a2 = a0; var a3 = a0;
    if (ROW_GROUPS > 1u) { a1 = loadA(m0 + 4u, k); }
    if (ROW_GROUPS > 2u) { a2 = loadA(m0 + 8u, k); }
    if (ROW_GROUPS > 3u) { a3 = loadA(m0 + 12u, k); }
    let b0 = loadB(n0, k);
    var b1 = b0; var b2 = b0; var b3 = b0;
    if (COL_VECS > 1u) { b1 = loadB(n0 + 4u, k); }
    if (COL_VECS > 2u) { b2 = loadB(n0 + 8u, k); }
    if (COL_VECS > 3u) { b3 = loadB(n0 + 12u, k); }

    c00 += b0 * a0;
    if (COL_VECS > 1u) { c01 += b1 * a0; }
    if (COL_VECS > 2u) { c02 += b2 * a0; }
    if (COL_VECS > 3u) { c03 += b3 * a0; }
    if (ROW_GROUPS > 1u) {
      c10 += b0 * a1;
      if (COL_VECS > 1u) { c11 += b1 * a1; }
      if (COL_VECS > 2u) { c12 += b2 * a1; }
      if (COL_VECS > 3u) { c13 += b3 * a1; }
    }
    if (ROW_GROUPS > 2u) {
      c20 += b0 * a2;
      if (COL_VECS > 1u) { c21 += b1 * a2; }
      if (COL_VECS > 2u) { c22 += b2 * a2; }
      if (COL_VECS > 3u) { c23 += b3 * a2; }
    }
    if (ROW_GROUPS > 3u) {
      c30 += b0 * a3;
      if (COL_VECS > 1u) { c31 += b1 * a3; }
      if (COL_VECS > 2u) { c32 += b2 * a3; }
      if (COL_VECS > 3u) { c33 += b3 * a3; }
    }
  }

  storeBlock(m0, n0, c00);
  if (COL_VECS > 1u) { storeBlock(m0, n0 + 4u, c01); }
  if (COL_VECS > 2u) { storeBlock(m0, n0 + 8u, c02); }
  if (COL_VECS > 3u) { storeBlock(m0, n0 + 12u, c03); }
  if (ROW_GROUPS > 1u) {
    storeBlock(m0 + 4u, n0, c10);
    if (COL_VECS > 1u) { storeBlock(m0 + 4u, n0 + 4u, c11); }
    if (COL_VECS > 2u) { storeBlock(m0 + 4u, n0 + 8u, c12); }
    if (COL_VECS > 3u) { storeBlock(m0 + 4u, n0 + 12u, c13); }
  }
  if (ROW_GROUPS > 2u) {
    storeBlock(m0 + 8u, n0, c20);
    if (COL_VECS > 1u) { storeBlock(m0 + 8u, n0 + 4u, c21); }
    if (COL_VECS > 2u) { storeBlock(m0 + 8u, n0 + 8u, c22); }
    if (COL_VECS > 3u) { storeBlock(m0 + 8u, n0 + 12u, c23); }
  }
  if (ROW_GROUPS > 3u) {
    storeBlock(m0 + 12u, n0, c30);
    if (COL_VECS > 1u) { storeBlock(m0 + 12u, n0 + 4u, c31); }
    if (COL_VECS > 2u) { storeBlock(m0 + 12u, n0 + 8u, c32); }
    if (COL_VECS > 3u) { storeBlock(m0 + 12u, n0 + 12u, c33); }
  }
}
