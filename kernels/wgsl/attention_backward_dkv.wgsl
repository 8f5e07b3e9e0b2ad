// Causal multi-head self-attention, backward, second half: dk and dv for each key row
// (FlashAttention-2, arXiv:2307.08691, Algorithm 2, with the loop over queries inside one
// thread). For key j and every query t >= j the softmax is rebuilt from q, k and the forward
// pass's lse; D_t = dout_t . out_t comes from attention_backward_dq.wgsl:
//   p = exp(q_t . k_j / sqrt(HS) - lse_t),  dv_j = sum_t p dout_t,
//   dk_j = sum_t p (dout_t . v_j - D_t) q_t / sqrt(HS),
// summed over t in a fixed order by one thread: deterministic, no atomics.
//
// One thread owns ROWS consecutive key rows of one (batch, head), held in registers as in
// attention_forward.wgsl (whose notes on the Row type apply here).

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  threadsPerHead: u32, // ceil(T / ROWS)
  threads: u32, // B * NH * threadsPerHead; the 2-D grid overshoots it
}

@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>; // (B, T, 3C): k, v thirds written
@group(0) @binding(1) var<storage, read> D: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(3) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>; // (B, NH, T)
@group(0) @binding(5) var<uniform> params: Params;

override HS: u32 = 32u; // head size: a multiple of 4, at most 64
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 4u; // key rows per thread, 1 to 4: each q and dout load serves them all

// Which buffer loadRow reads.
const QKV = 0u;
const DOUT = 1u;

// A head-sized vector as up to four 16-float chunks in registers. SwiftShader runs loops over
// run-time-indexed private arrays 2-5x slower than straight-line code on named values
// (measured on the default model), and GPU compilers keep these in registers too. Chunk c is
// live when HS > 16c; the `if (HS > ...)` tests fold away once HS is set. When HS is not a
// multiple of 16, the last chunk's tail is zero, so it adds nothing to dot products.
struct Row {
  c0: mat4x4<f32>,
  c1: mat4x4<f32>,
  c2: mat4x4<f32>,
  c3: mat4x4<f32>,
}

fn dot16(a: mat4x4<f32>, b: mat4x4<f32>) -> f32 {
  return dot(a[0], b[0]) + dot(a[1], b[1]) + dot(a[2], b[2]) + dot(a[3], b[3]);
}

fn rowDot(a: Row, b: Row) -> f32 {
  var s = dot16(a.c0, b.c0);
  if (HS > 16u) { s += dot16(a.c1, b.c1); }
  if (HS > 32u) { s += dot16(a.c2, b.c2); }
  if (HS > 48u) { s += dot16(a.c3, b.c3); }
  return s;
}

/** a x + b y */
fn rowMix(a: f32, x: Row, b: f32, y: Row) -> Row {
  var r = Row();
  r.c0 = x.c0 * a + y.c0 * b;
  if (HS > 16u) { r.c1 = x.c1 * a + y.c1 * b; }
  if (HS > 32u) { r.c2 = x.c2 * a + y.c2 * b; }
  if (HS > 48u) { r.c3 = x.c3 * a + y.c3 * b; }
  return r;
}

fn rowScale(a: f32, x: Row) -> Row {
  var r = Row();
  r.c0 = x.c0 * a;
  if (HS > 16u) { r.c1 = x.c1 * a; }
  if (HS > 32u) { r.c2 = x.c2 * a; }
  if (HS > 48u) { r.c3 = x.c3 * a; }
  return r;
}

/** vec4 i of chunk c of the head vector at vec4 index o of buffer `src`; zero past the head. */
fn element(src: u32, o: u32, c: u32, i: u32) -> vec4<f32> {
  let at = 4u * c + i;
  return select(vec4<f32>(), fetch(src, o + min(at, HS / 4u - 1u)), at < HS / 4u);
}

fn fetch(src: u32, at: u32) -> vec4<f32> {
  switch src {
    case QKV: { return qkv[at]; }
    default: { return dout[at]; }
  }
}

fn loadChunk(src: u32, o: u32, c: u32) -> mat4x4<f32> {
  return mat4x4<f32>(
    element(src, o, c, 0u),
    element(src, o, c, 1u),
    element(src, o, c, 2u),
    element(src, o, c, 3u),
  );
}

fn loadRow(src: u32, o: u32) -> Row {
  var r = Row();
  r.c0 = loadChunk(src, o, 0u);
  if (HS > 16u) { r.c1 = loadChunk(src, o, 1u); }
  if (HS > 32u) { r.c2 = loadChunk(src, o, 2u); }
  if (HS > 48u) { r.c3 = loadChunk(src, o, 3u); }
  return r;
}

fn storeChunk(o: u32, c: u32, m: mat4x4<f32>) {
  let n = HS / 4u - 4u * c; // vec4s of this chunk inside the head
  let b = o + 4u * c;
  dqkv[b] = m[0];
  if (n > 1u) { dqkv[b + 1u] = m[1]; }
  if (n > 2u) { dqkv[b + 2u] = m[2]; }
  if (n > 3u) { dqkv[b + 3u] = m[3]; }
}

fn storeRow(o: u32, r: Row) {
  storeChunk(o, 0u, r.c0);
  if (HS > 16u) { storeChunk(o, 1u, r.c1); }
  if (HS > 32u) { storeChunk(o, 2u, r.c2); }
  if (HS > 48u) { storeChunk(o, 3u, r.c3); }
}

/** One key row's state. */
struct KeyGrad {
  k: Row, // pre-scaled by 1/sqrt(HS), so q . k is the score
  v: Row,
  dk: Row, // unscaled: times 1/sqrt(HS) at the end
  dv: Row,
}

fn start(h: Head, j: u32, scale: f32) -> KeyGrad {
  let ko = h.q + j * 3u * h.C4 + h.C4;
  return KeyGrad(rowScale(scale, loadRow(QKV, ko)), loadRow(QKV, ko + h.C4), Row(), Row());
}

/** Query q with upstream gradient g; `visible` is the causal mask. */
fn step(s: KeyGrad, q: Row, g: Row, rowLse: f32, rowD: f32, visible: bool) -> KeyGrad {
  let p = select(0.0, exp(rowDot(q, s.k) - rowLse), visible);
  let ds = p * (rowDot(g, s.v) - rowD);
  return KeyGrad(s.k, s.v, rowMix(1.0, s.dk, ds, q), rowMix(1.0, s.dv, p, g));
}

// Where one (batch, head) lives: token t's q is at vec4 q + t * 3 * C4 (its k and v C4 and
// 2 * C4 further), its out and dout at o + t * C4, its lse and D at l + t.
struct Head {
  q: u32,
  o: u32,
  l: u32,
  C4: u32, // vec4s per token in out: C / 4
}

/** The (batch, head) that `thread` works on. */
fn locate(thread: u32) -> Head {
  let bh = thread / params.threadsPerHead;
  let C4 = params.NH * (HS / 4u);
  let seq = (bh / params.NH) * params.T; // row of this sequence's token 0
  let col = (bh % params.NH) * (HS / 4u);
  return Head(seq * 3u * C4 + col, seq * C4 + col, bh * params.T, C4);
}

// Every `var` gets an explicit initializer: Dawn on SwiftShader was seen to zero a `var`
// declared without one only once per invocation, not each time a loop body declares it.
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let thread = (wid.y * nwg.x + wid.x) * WORKGROUP_SIZE + lid;
  if (thread >= params.threads) {
    return;
  }
  let h = locate(thread);
  let T = params.T;
  let last = T - 1u;
  let scale = inverseSqrt(f32(HS));
  let j0 = (thread % params.threadsPerHead) * ROWS;

  // Rows past T repeat row T-1: a little wasted work, never written.
  var r0 = start(h, min(j0, last), scale);
  var r1 = r0;
  var r2 = r0;
  var r3 = r0;
  if (ROWS > 1u) { r1 = start(h, min(j0 + 1u, last), scale); }
  if (ROWS > 2u) { r2 = start(h, min(j0 + 2u, last), scale); }
  if (ROWS > 3u) { r3 = start(h, min(j0 + 3u, last), scale); }

  // Causal: only queries t >= j see key j; the first row's range covers the others'.
  for (var t = j0; t < T; t++) {
    let q = loadRow(QKV, h.q + t * 3u * h.C4);
    let g = loadRow(DOUT, h.o + t * h.C4);
    let rowLse = lse[h.l + t];
    let rowD = D[h.l + t];
    r0 = step(r0, q, g, rowLse, rowD, true);
    if (ROWS > 1u) { r1 = step(r1, q, g, rowLse, rowD, t >= j0 + 1u); }
    if (ROWS > 2u) { r2 = step(r2, q, g, rowLse, rowD, t >= j0 + 2u); }
    if (ROWS > 3u) { r3 = step(r3, q, g, rowLse, rowD, t >= j0 + 3u); }
  }

  finish(h, r0, j0, scale);
  if (ROWS > 1u) { finish(h, r1, j0 + 1u, scale); }
  if (ROWS > 2u) { finish(h, r2, j0 + 2u, scale); }
  if (ROWS > 3u) { finish(h, r3, j0 + 3u, scale); }
}

fn finish(h: Head, s: KeyGrad, j: u32, scale: f32) {
  if (j < params.T) {
    let ko = h.q + j * 3u * h.C4 + h.C4;
    storeRow(ko, rowScale(scale, s.dk));
    storeRow(ko + h.C4, s.dv);
  }
}
