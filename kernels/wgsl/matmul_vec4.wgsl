// Shared by the two vec4 matmul families, matmul_forward.wgsl (register blocks) and
// matmul_forward_shared.wgsl (workgroup tiles); kernels/ops/matmul.ts prepends it after
// matmul_common.wgsl. A 4x4 piece of op(A) or op(B) is held as a mat4x4 so that one
// `mat * mat` does 64 multiply-adds: acc (columns = out rows) += Bk (columns = op(B) rows) *
// Ak (columns = op(A) rows). An invocation's accumulators are up to four Strips of up to four
// such blocks; pieces beyond ROW_GROUPS/COL_VECS sit behind `if` on override constants, which
// the pipeline compiler folds away (loops over small register arrays are not unrolled by
// SwiftShader's compiler and were 7x slower).
//
// Needs vec4 alignment (kernels/ops/matmul.ts checks it, else uses matmul_forward_scalar.wgsl):
// A's contiguous axis (K, or M when TRANS_A), B's (N, or K when TRANS_B) and N are multiples
// of 4. Rows and columns past M and N are clamped on load and skipped on store. Every output is
// summed by one invocation in a fixed order, so results are bit-identical run to run.

alias Elem = vec4<f32>;

// Rows per invocation = 4 * ROW_GROUPS, columns = 4 * COL_VECS.
override ROW_GROUPS: u32 = 2u;
override COL_VECS: u32 = 2u;

// Which operand `operand` reads.
const OP_A = true;
const OP_B = false;

fn operand(isA: bool, at: u32) -> vec4<f32> {
  if (isA) {
    return a[at];
  }
  return b[at];
}

// Four rows r0..r0+3 (clamped to `rows`) of an operand stored with `width4` vec4s a row, each
// at vec4 column v; zero where `inside` is false. Column i of the result is row r0+i.
fn acrossRows(isA: bool, r0: u32, rows: u32, width4: u32, v: u32, inside: bool) -> mat4x4<f32> {
  let z = vec4<f32>();
  return mat4x4<f32>(
    select(z, operand(isA, min(r0, rows - 1u) * width4 + v), inside),
    select(z, operand(isA, min(r0 + 1u, rows - 1u) * width4 + v), inside),
    select(z, operand(isA, min(r0 + 2u, rows - 1u) * width4 + v), inside),
    select(z, operand(isA, min(r0 + 3u, rows - 1u) * width4 + v), inside),
  );
}

// Four k-rows k0..k0+3 of an operand stored (K, width4 vec4s), each at vec4 column v; with
// `masked`, those at or past K read as zero (else K is a multiple of 4 and none is).
fn acrossDepth(isA: bool, k0: u32, width4: u32, v: u32, masked: bool) -> mat4x4<f32> {
  let K = shape.K;
  if (!masked) {
    let i = k0 * width4 + v;
    return mat4x4<f32>(operand(isA, i), operand(isA, i + width4), operand(isA, i + 2u * width4), operand(isA, i + 3u * width4));
  }
  let z = vec4<f32>();
  return mat4x4<f32>(
    select(z, operand(isA, min(k0, K - 1u) * width4 + v), k0 < K),
    select(z, operand(isA, min(k0 + 1u, K - 1u) * width4 + v), k0 + 1u < K),
    select(z, operand(isA, min(k0 + 2u, K - 1u) * width4 + v), k0 + 2u < K),
    select(z, operand(isA, min(k0 + 3u, K - 1u) * width4 + v), k0 + 3u < K),
  );
}

// One row group's accumulators: column vecs 0..COL_VECS-1 of 4 out rows.
struct Strip {
  c0: mat4x4<f32>,
  c1: mat4x4<f32>,
  c2: mat4x4<f32>,
  c3: mat4x4<f32>,
}

// acc += b * a for every live column vec: `b` holds op(B)'s pieces, `a` op(A)'s.
fn accumulate(acc: Strip, b: Strip, a: mat4x4<f32>) -> Strip {
  var r = acc;
  r.c0 += b.c0 * a;
  if (COL_VECS > 1u) { r.c1 += b.c1 * a; }
  if (COL_VECS > 2u) { r.c2 += b.c2 * a; }
  if (COL_VECS > 3u) { r.c3 += b.c3 * a; }
  return r;
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

// Writes out rows m0..m0+3 at the live column vecs from n0.
fn storeStrip(m0: u32, n0: u32, s: Strip) {
  storeBlock(m0, n0, s.c0);
  if (COL_VECS > 1u) { storeBlock(m0, n0 + 4u, s.c1); }
  if (COL_VECS > 2u) { storeBlock(m0, n0 + 8u, s.c2); }
  if (COL_VECS > 3u) { storeBlock(m0, n0 + 12u, s.c3); }
}
