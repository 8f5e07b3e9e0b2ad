// out (M, N) = op(A) @ op(B) [+ bias] [+ out]: the register-blocked family, no workgroup memory
// (contract and bindings in matmul_common.wgsl, the 4x4 pieces in matmul_vec4.wgsl; both
// prepended by kernels/ops/matmul.ts).
//
// Each invocation owns a (4 * ROW_GROUPS) x (4 * COL_VECS) block of `out`, ROW_GROUPS and
// COL_VECS each in 1..4, and walks K four at a time. Transposed operands are loaded along
// their contiguous axis and flipped with transpose(), which costs nothing on
// SIMD-across-invocations CPUs and little on GPUs.
// There are no workgroup barriers: on SwiftShader (CPU) a barrier switches coroutines and costs
// far more than the re-reads it saves (the shared family measured 3-10x slower there), so this
// family is the one software adapters use; matmul_forward_shared.wgsl is the one for real GPUs.
// Bigger blocks mean fewer loads per multiply-add, which is what SwiftShader's per-lane gathers
// reward: 16x16 per invocation ran ~5 GFLOP/s there, 8x8 ~3.3, 4x4 ~2.3.
// K itself may be anything when TRANS_A && !TRANS_B (K_ALIGNED = false masks the tail).

// K is a multiple of 4: no masking of the last 4-deep step.
override K_ALIGNED: bool = true;

// op(A) rows m0..m0+3 at depth k0..k0+3; column i is row m0+i (a vec4 over k).
fn loadA(m0: u32, k0: u32) -> mat4x4<f32> {
  let M = shape.M;
  if (TRANS_A) {
    // (K, M) storage: read four k-rows along m, then transpose.
    return transpose(acrossDepth(OP_A, k0, M / 4u, min(m0, M - 4u) / 4u, !K_ALIGNED));
  }
  return acrossRows(OP_A, m0, M, shape.K / 4u, k0 / 4u, true);
}

// op(B) rows k0..k0+3 at columns n0..n0+3; column j is row k0+j (a vec4 over n).
fn loadB(n0: u32, k0: u32) -> mat4x4<f32> {
  let N = shape.N;
  if (TRANS_B) {
    // (N, K) storage: read four n-rows along k, then transpose.
    return transpose(acrossRows(OP_B, n0, N, shape.K / 4u, k0 / 4u, true));
  }
  return acrossDepth(OP_B, k0, N / 4u, min(n0, N - 4u) / 4u, !K_ALIGNED);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * ROW_GROUPS * 4u;
  let n0 = gid.x * COL_VECS * 4u;
  // r<g>: the accumulators of row group g.
  var r0 = Strip();
  var r1 = Strip();
  var r2 = Strip();
  var r3 = Strip();
  for (var k = 0u; k < shape.K; k += 4u) {
    var bk = Strip();
    bk.c0 = loadB(n0, k);
    if (COL_VECS > 1u) { bk.c1 = loadB(n0 + 4u, k); }
    if (COL_VECS > 2u) { bk.c2 = loadB(n0 + 8u, k); }
    if (COL_VECS > 3u) { bk.c3 = loadB(n0 + 12u, k); }
    r0 = accumulate(r0, bk, loadA(m0, k));
    if (ROW_GROUPS > 1u) { r1 = accumulate(r1, bk, loadA(m0 + 4u, k)); }
    if (ROW_GROUPS > 2u) { r2 = accumulate(r2, bk, loadA(m0 + 8u, k)); }
    if (ROW_GROUPS > 3u) { r3 = accumulate(r3, bk, loadA(m0 + 12u, k)); }
  }

  storeStrip(m0, n0, r0);
  if (ROW_GROUPS > 1u) { storeStrip(m0 + 4u, n0, r1); }
  if (ROW_GROUPS > 2u) { storeStrip(m0 + 8u, n0, r2); }
  if (ROW_GROUPS > 3u) { storeStrip(m0 + 12u, n0, r3); }
}
