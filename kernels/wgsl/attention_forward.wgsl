// Causal multi-head self-attention, forward, fused: scale, causal mask, softmax and the
// weighted sum of values in one pass, with the online softmax of FlashAttention-2 (Dao 2023,
// arXiv:2307.08691, Algorithm 1): scores are never stored; each query row keeps a running max
// `m`, sum `l` and unnormalised output `acc`, rescaled as each key arrives. Memory grows as T,
// not T x T; lse = m + log(l) is saved per row so the backward pass can rebuild the softmax.
//
// One thread owns ROWS consecutive query rows of one (batch, head) and walks keys 0..t once:
// each key and value it loads serves all ROWS rows (register blocking; on SwiftShader a
// workgroup barrier costs more than the loads it would save, and on real GPUs the threads of a
// workgroup read the same K/V rows through the cache).

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  threadsPerHead: u32, // ceil(T / ROWS)
  threads: u32, // B * NH * threadsPerHead; the 2-D grid overshoots it
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(1) var<storage, read_write> lse: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(3) var<uniform> params: Params;

override HS: u32 = 32u; // head size: a multiple of 4, at most 64
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 4u; // query rows per thread, 1 to 4

// Stands in for -infinity (WGSL has no infinity literal): exp(NEG - m) is exactly 0.
const NEG = -1e30;

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

/** vec4 i of chunk c of the head vector at vec4 index o; zero past the head. */
fn element(o: u32, c: u32, i: u32) -> vec4<f32> {
  let at = 4u * c + i;
  return select(vec4<f32>(), qkv[o + min(at, HS / 4u - 1u)], at < HS / 4u);
}

fn loadChunk(o: u32, c: u32) -> mat4x4<f32> {
  return mat4x4<f32>(element(o, c, 0u), element(o, c, 1u), element(o, c, 2u), element(o, c, 3u));
}

fn loadRow(o: u32) -> Row {
  var r = Row();
  r.c0 = loadChunk(o, 0u);
  if (HS > 16u) { r.c1 = loadChunk(o, 1u); }
  if (HS > 32u) { r.c2 = loadChunk(o, 2u); }
  if (HS > 48u) { r.c3 = loadChunk(o, 3u); }
  return r;
}

fn storeChunk(o: u32, c: u32, m: mat4x4<f32>) {
  let n = HS / 4u - 4u * c; // vec4s of this chunk inside the head
  let b = o + 4u * c;
  out[b] = m[0];
  if (n > 1u) { out[b + 1u] = m[1]; }
  if (n > 2u) { out[b + 2u] = m[2]; }
  if (n > 3u) { out[b + 3u] = m[3]; }
}

fn storeRow(o: u32, r: Row) {
  storeChunk(o, 0u, r.c0);
  if (HS > 16u) { storeChunk(o, 1u, r.c1); }
  if (HS > 32u) { storeChunk(o, 2u, r.c2); }
  if (HS > 48u) { storeChunk(o, 3u, r.c3); }
}

/** The running state of one query row. */
struct Query {
  q: Row, // pre-scaled by 1/sqrt(HS), so q . k is the score
  acc: Row,
  m: f32,
  l: f32,
}

/** One online-softmax step: key k, value v; `visible` is the causal mask. */
fn attend(s: Query, k: Row, v: Row, visible: bool) -> Query {
  let score = select(NEG, rowDot(s.q, k), visible);
  let m = max(s.m, score);
  let alpha = exp(s.m - m); // rescales what was summed under the old max
  let p = exp(score - m);
  return Query(s.q, rowMix(alpha, s.acc, p, v), m, s.l * alpha + p);
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
  let t0 = (thread % params.threadsPerHead) * ROWS;

  // Rows past T repeat row T-1: a little wasted work, never written.
  var r0 = start(h, min(t0, last), scale);
  var r1 = r0;
  var r2 = r0;
  var r3 = r0;
  if (ROWS > 1u) { r1 = start(h, min(t0 + 1u, last), scale); }
  if (ROWS > 2u) { r2 = start(h, min(t0 + 2u, last), scale); }
  if (ROWS > 3u) { r3 = start(h, min(t0 + 3u, last), scale); }

  // Causal: the last row reads keys 0..t0+ROWS-1, the earlier ones mask the tail.
  let nk = min(t0 + ROWS, T);
  for (var j = 0u; j < nk; j++) {
    let ko = h.q + j * 3u * h.C4 + h.C4;
    let k = loadRow(ko);
    let v = loadRow(ko + h.C4);
    r0 = attend(r0, k, v, j <= t0);
    if (ROWS > 1u) { r1 = attend(r1, k, v, j <= t0 + 1u); }
    if (ROWS > 2u) { r2 = attend(r2, k, v, j <= t0 + 2u); }
    if (ROWS > 3u) { r3 = attend(r3, k, v, j <= t0 + 3u); }
  }

  finish(h, r0, t0);
  if (ROWS > 1u) { finish(h, r1, t0 + 1u); }
  if (ROWS > 2u) { finish(h, r2, t0 + 2u); }
  if (ROWS > 3u) { finish(h, r3, t0 + 3u); }
}

fn start(h: Head, t: u32, scale: f32) -> Query {
  return Query(rowScale(scale, loadRow(h.q + t * 3u * h.C4)), Row(), NEG, 0.0);
}

fn finish(h: Head, s: Query, t: u32) {
  if (t < params.T) {
    storeRow(h.o + t * h.C4, rowScale(1.0 / s.l, s.acc));
    lse[h.l + t] = s.m + log(s.l);
  }
}
