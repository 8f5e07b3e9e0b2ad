// out (M, N) = op(A) @ op(B) [+ bias] [+ out]: the workgroup-tiled family, for real GPUs
// (contract and bindings in matmul_common.wgsl, the 4x4 pieces in matmul_vec4.wgsl; both
// prepended by kernels/ops/matmul.ts). kernels/ops/matmul.ts picks it or matmul_forward.wgsl
// (the register-blocked family that software adapters use) by autotune.
//
// A workgroup owns a TILE_M x TILE_N block of `out` (TILE_M = 4 * ROW_GROUPS * WG_Y,
// TILE_N = 4 * COL_VECS * WG_X, ROW_GROUPS and COL_VECS each 1 or 2) and walks K in
// TILE_K-deep slabs: all invocations copy 4x4 pieces of op(A) and op(B) into workgroup memory,
// with vec4 loads along each operand's contiguous axis (so neighbouring invocations read
// neighbouring memory), then each one multiplies its own (4 * ROW_GROUPS) x (4 * COL_VECS)
// register block out of the shared tiles.
// Both tiles are stored k-major as vec4s ([k][m / 4] and [k][n / 4]) whatever the operand
// layout, so the inner loop is identical for every transpose combination.
// Loads past M, N are clamped and those past K read as zero, so any tile size fits any shape.

// Depth of one slab of K; a multiple of 4.
override TILE_K: u32 = 16u;

// [k][m / 4] and [k][n / 4].
var<workgroup> tileA: array<vec4<f32>, TILE_K * WG_Y * ROW_GROUPS>;
var<workgroup> tileB: array<vec4<f32>, TILE_K * WG_X * COL_VECS>;

// op(A) rows m0..m0+3 at depth k0..k0+3, column j = op(A)[m0..m0+3][k0+j] (k-major, as tiled).
fn loadA(m0: u32, k0: u32) -> mat4x4<f32> {
  let M = shape.M;
  if (TRANS_A) {
    return acrossDepth(OP_A, k0, M / 4u, min(m0, M - 4u) / 4u, true);
  }
  // (M, K) storage with K a multiple of 4: a 4-deep step is all in range or all out.
  let K4 = shape.K / 4u;
  return transpose(acrossRows(OP_A, m0, M, K4, min(k0 / 4u, K4 - 1u), k0 < shape.K));
}

// op(B) rows k0..k0+3 at columns n0..n0+3; column j is row k0+j (a vec4 over n).
fn loadB(n0: u32, k0: u32) -> mat4x4<f32> {
  let N = shape.N;
  if (TRANS_B) {
    let K4 = shape.K / 4u;
    return transpose(acrossRows(OP_B, n0, N, K4, min(k0 / 4u, K4 - 1u), k0 < shape.K));
  }
  return acrossDepth(OP_B, k0, N / 4u, min(n0, N - 4u) / 4u, true);
}

// Splits a slab of `pieces` 4x4 pieces, `across` of them along the m (or n) axis, so that
// consecutive invocations walk the operand's contiguous axis. Returns (m or n piece, k piece).
fn piece(i: u32, across: u32, kMajor: bool) -> vec2<u32> {
  let deep = TILE_K / 4u;
  if (kMajor) {
    return vec2<u32>(i / deep, i % deep);
  }
  return vec2<u32>(i % across, i / across);
}

fn tileAt(isA: bool, at: u32) -> vec4<f32> {
  if (isA) {
    return tileA[at];
  }
  return tileB[at];
}

fn setTile(isA: bool, at: u32, value: vec4<f32>) {
  if (isA) {
    tileA[at] = value;
  } else {
    tileB[at] = value;
  }
}

// Copies this slab of one operand into its tile, `across4` vec4s wide, from row (or column)
// r0 and depth k0. A's contiguous axis is k unless TRANS_A; B's is n unless TRANS_B.
fn stage(isA: bool, li: u32, r0: u32, across4: u32, k0: u32) {
  let kMajor = select(TRANS_B, !TRANS_A, isA);
  for (var i = li; i < across4 * (TILE_K / 4u); i += WG_X * WG_Y) {
    let p = piece(i, across4, kMajor);
    var t = mat4x4<f32>();
    if (isA) {
      t = loadA(r0 + p.x * 4u, k0 + p.y * 4u);
    } else {
      t = loadB(r0 + p.x * 4u, k0 + p.y * 4u);
    }
    let at = p.y * 4u * across4 + p.x;
    setTile(isA, at, t[0]);
    setTile(isA, at + across4, t[1]);
    setTile(isA, at + 2u * across4, t[2]);
    setTile(isA, at + 3u * across4, t[3]);
  }
}

// The 4x4 piece of a k-major tile `across4` vec4s wide whose first vec4 is at i: column j is
// tile row j (one depth).
fn tilePiece(isA: bool, i: u32, across4: u32) -> mat4x4<f32> {
  return mat4x4<f32>(tileAt(isA, i), tileAt(isA, i + across4), tileAt(isA, i + 2u * across4), tileAt(isA, i + 3u * across4));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let tileM4 = WG_Y * ROW_GROUPS; // tile rows / 4
  let tileN4 = WG_X * COL_VECS; // tile columns / 4
  let tm0 = wid.y * tileM4 * 4u;
  let tn0 = wid.x * tileN4 * 4u;
  // r<g>: the accumulators of row group g.
  var r0 = Strip();
  var r1 = Strip();

  for (var k0 = 0u; k0 < shape.K; k0 += TILE_K) {
    stage(OP_A, li, tm0, tileM4, k0);
    stage(OP_B, li, tn0, tileN4, k0);
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk += 4u) {
      // Ak: column i = out row i over k (transposed from the k-major tile); Bk: column j = k row j.
      let ia = kk * tileM4 + lid.y * ROW_GROUPS;
      let ib = kk * tileN4 + lid.x * COL_VECS;
      var bk = Strip();
      bk.c0 = tilePiece(OP_B, ib, tileN4);
      if (COL_VECS > 1u) { bk.c1 = tilePiece(OP_B, ib + 1u, tileN4); }
      r0 = accumulate(r0, bk, transpose(tilePiece(OP_A, ia, tileM4)));
      if (ROW_GROUPS > 1u) { r1 = accumulate(r1, bk, transpose(tilePiece(OP_A, ia + 1u, tileM4))); }
    }
    workgroupBarrier();
  }

  let m0 = tm0 + lid.y * ROW_GROUPS * 4u;
  let n0 = tn0 + lid.x * COL_VECS * 4u;
  storeStrip(m0, n0, r0);
  if (ROW_GROUPS > 1u) { storeStrip(m0 + 4u, n0, r1); }
}
