// out (M, N) = op(A) @ op(B) [+ bias] [+ out]: the workgroup-tiled family, for real GPUs.
// Same contract, bindings and alignment rules as matmul_forward.wgsl (the register-blocked
// family that software adapters use); kernels/ops/matmul.ts picks one by autotune.
//
// A workgroup owns a TILE_M x TILE_N block of `out` (TILE_M = 4 * ROW_GROUPS * WG_Y,
// TILE_N = 4 * COL_VECS * WG_X) and walks K in TILE_K-deep slabs: all invocations copy 4x4
// pieces of op(A) and op(B) into workgroup memory, with vec4 loads along each operand's
// contiguous axis (so neighbouring invocations read neighbouring memory), then each one
// multiplies its own (4 * ROW_GROUPS) x (4 * COL_VECS) register block out of the shared tiles.
// Both tiles are stored k-major as vec4s ([k][m / 4] and [k][n / 4]) whatever the operand
// layout, so the inner loop is identical for every transpose combination.
// Loads past M, N are clamped and those past K read as zero, so any tile size fits any shape.

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
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
// Rows per invocation = 4 * ROW_GROUPS, columns = 4 * COL_VECS; each 1 or 2.
override ROW_GROUPS: u32 = 1u;
override COL_VECS: u32 = 1u;
// Depth of one slab of K; a multiple of 4.
override TILE_K: u32 = 16u;

// [k][m / 4] and [k][n / 4].
var<workgroup> tileA: array<vec4<f32>, TILE_K * WG_Y * ROW_GROUPS>;
var<workgroup> tileB: array<vec4<f32>, TILE_K * WG_X * COL_VECS>;

// op(A) rows m0..m0+3 at depth k0..k0+3, column j = op(A)[m0..m0+3][k0+j] (k-major, as tiled).
fn loadA(m0: u32, k0: u32) -> mat4x4<f32> {
  let M = shape.M;
  let K = shape.K;
  let z = vec4<f32>();
  if (TRANS_A) {
    let M4 = M / 4u;
    let mv = min(m0, M - 4u) / 4u;
    return mat4x4<f32>(
      select(z, a[min(k0, K - 1u) * M4 + mv], k0 < K),
      select(z, a[min(k0 + 1u, K - 1u) * M4 + mv], k0 + 1u < K),
      select(z, a[min(k0 + 2u, K - 1u) * M4 + mv], k0 + 2u < K),
      select(z, a[min(k0 + 3u, K - 1u) * M4 + mv], k0 + 3u < K),
    );
  }
  // (M, K) storage with K a multiple of 4: a 4-deep step is all in range or all out.
  let K4 = K / 4u;
  let kv = min(k0 / 4u, K4 - 1u);
  let inside = k0 < K;
  return transpose(mat4x4<f32>(
    select(z, a[min(m0, M - 1u) * K4 + kv], inside),
    select(z, a[min(m0 + 1u, M - 1u) * K4 + kv], inside),
    select(z, a[min(m0 + 2u, M - 1u) * K4 + kv], inside),
    select(z, a[min(m0 + 3u, M - 1u) * K4 + kv], inside),
  ));
}

// op(B) rows k0..k0+3 at columns n0..n0+3; column j is row k0+j (a vec4 over n).
fn loadB(n0: u32, k0: u32) -> mat4x4<f32> {
  let N = shape.N;
  let K = shape.K;
  let z = vec4<f32>();
  if (TRANS_B) {
    let K4 = K / 4u;
    let kv = min(k0 / 4u, K4 - 1u);
    let inside = k0 < K;
    return transpose(mat4x4<f32>(
      select(z, b[min(n0, N - 1u) * K4 + kv], inside),
      select(z, b[min(n0 + 1u, N - 1u) * K4 + kv], inside),
      select(z, b[min(n0 + 2u, N - 1u) * K4 + kv], inside),
      select(z, b[min(n0 + 3u, N - 1u) * K4 + kv], inside),
    ));
  }
  let N4 = N / 4u;
  let nv = min(n0, N - 4u) / 4u;
  return mat4x4<f32>(
    select(z, b[min(k0, K - 1u) * N4 + nv], k0 < K),
    select(z, b[min(k0 + 1u, K - 1u) * N4 + nv], k0 + 1u < K),
    select(z, b[min(k0 + 2u, K - 1u) * N4 + nv], k0 + 2u < K),
    select(z, b[min(k0 + 3u, K - 1u) * N4 + nv], k0 + 3u < K),
  );
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
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let tileM4 = WG_Y * ROW_GROUPS; // tile rows / 4
  let tileN4 = WG_X * COL_VECS; // tile columns / 4
  let tm0 = wid.y * tileM4 * 4u;
  let tn0 = wid.x * tileN4 * 4u;
  let threads = WG_X * WG_Y;
  let deep = TILE_K / 4u;
  var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>();

  for (var k0 = 0u; k0 < shape.K; k0 += TILE_K) {
    // A's contiguous axis is k unless TRANS_A; B's is n unless TRANS_B.
    for (var i = li; i < tileM4 * deep; i += threads) {
      let p = piece(i, tileM4, !TRANS_A);
      let t = loadA(tm0 + p.x * 4u, k0 + p.y * 4u);
      let at = p.y * 4u * tileM4 + p.x;
      tileA[at] = t[0];
      tileA[at + tileM4] = t[1];
      tileA[at + 2u * tileM4] = t[2];
      tileA[at + 3u * tileM4] = t[3];
    }
    for (var i = li; i < tileN4 * deep; i += threads) {
      let p = piece(i, tileN4, TRANS_B);
      let t = loadB(tn0 + p.x * 4u, k0 + p.y * 4u);
      let at = p.y * 4u * tileN4 + p.x;
      tileB[at] = t[0];
      tileB[at + tileN4] = t[1];
      tileB[at + 2u * tileN4] = t[2];
      tileB[at + 3u * tileN4] = t[3];
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk += 4u) {
      // Ak: column i = out row i over k (transposed from the k-major tile); Bk: column j = k row j.
      let ia = kk * tileM4 + lid.y * ROW_GROUPS;
      let ib = kk * tileN4 + lid.x * COL_VECS;
      let a0 = transpose(mat4x4<f32>(tileA[ia], tileA[ia + tileM4], tileA[ia + 2u * tileM4], tileA[ia + 3u * tileM4]));
      let b0 = mat4x4<f32>(tileB[ib], tileB[ib + tileN4], tileB[ib + 2u * tileN4], tileB[ib + 3u * tileN4]);
      c00 += b0 * a0;
      if (COL_VECS > 1u) {
        let j = ib + 1u;
        let b1 = mat4x4<f32>(tileB[j], tileB[j + tileN4], tileB[j + 2u * tileN4], tileB[j + 3u * tileN4]);
        c01 += b1 * a0;
        if (ROW_GROUPS > 1u) {
          let i = ia + 1u;
          let a1 = transpose(mat4x4<f32>(tileA[i], tileA[i + tileM4], tileA[i + 2u * tileM4], tileA[i + 3u * tileM4]));
          c10 += b0 * a1;
          c11 += b1 * a1;
        }
      } else if (ROW_GROUPS > 1u) {
        let i = ia + 1u;
        let a1 = transpose(mat4x4<f32>(tileA[i], tileA[i + tileM4], tileA[i + 2u * tileM4], tileA[i + 3u * tileM4]));
        c10 += b0 * a1;
      }
    }
    workgroupBarrier();
  }

  let m0 = tm0 + lid.y * ROW_GROUPS * 4u;
  let n0 = tn0 + lid.x * COL_VECS * 4u;
  storeBlock(m0, n0, c00);
  if (COL_VECS > 1u) { storeBlock(m0, n0 + 4u, c01); }
  if (ROW_GROUPS > 1u) {
    storeBlock(m0 + 4u, n0, c10);
    if (COL_VECS > 1u) { storeBlock(m0 + 4u, n0 + 4u, c11); }
  }
}
