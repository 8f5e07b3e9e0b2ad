// Shared by the three attention kernels (kernels/ops/attention.ts prepends it; WGSL has no
// includes): the Params uniform, the head-vector registers, where a (batch, head) lives, and
// the entry point, which walks one (batch, head) the same way in all three. A thread owns ROWS
// consecutive rows (query rows in attention_forward.wgsl and attention_backward_dq.wgsl, key
// rows in attention_backward_dkv.wgsl) and visits the rows of the other side once, in order;
// each row it visits is loaded once and serves all ROWS rows (register blocking: on SwiftShader
// a workgroup barrier costs more than the loads it would save, and on real GPUs the threads of
// a workgroup read the same rows through the cache). Every sum runs in a fixed order in one
// thread: deterministic, no atomics.
//
// Each kernel supplies:
//   const OWNS_QUERIES: bool             whether its rows are query rows (else key rows)
//   struct State                         one owned row's running state
//   struct Visit                         what one visited row brings (KeyValue for query rows)
//   fn fetch(src: u32, at: u32) -> vec4<f32>   vec4 `at` of buffer `src` (QKV, DOUT or OUT)
//   fn store(at: u32, value: vec4<f32>)  writes vec4 `at` of its output
//   fn start(h: Head, i: u32, scale: f32) -> State
//   fn visit(h: Head, j: u32) -> Visit
//   fn step(s: State, x: Visit, visible: bool) -> State
//   fn finish(h: Head, s: State, i: u32, scale: f32)   writes row i (skipped past T)

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  threadsPerHead: u32, // ceil(T / ROWS)
  threads: u32, // B * NH * threadsPerHead; the 2-D grid overshoots it
}

override HS: u32 = 32u; // head size: a multiple of 4, at most 64
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 4u; // rows per thread, 1 to 4: each visited row's load serves them all

// Which buffer fetch reads.
const QKV = 0u;
const DOUT = 1u;
const OUT = 2u;

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
  store(b, m[0]);
  if (n > 1u) { store(b + 1u, m[1]); }
  if (n > 2u) { store(b + 2u, m[2]); }
  if (n > 3u) { store(b + 3u, m[3]); }
}

fn storeRow(o: u32, r: Row) {
  storeChunk(o, 0u, r.c0);
  if (HS > 16u) { storeChunk(o, 1u, r.c1); }
  if (HS > 32u) { storeChunk(o, 2u, r.c2); }
  if (HS > 48u) { storeChunk(o, 3u, r.c3); }
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

/** Vec4 index of token t's q in qkv (B, T, 3C); its k is h.C4 further, its v 2 * h.C4. */
fn queryAt(h: Head, t: u32) -> u32 {
  return h.q + t * 3u * h.C4;
}

fn keyAt(h: Head, t: u32) -> u32 {
  return queryAt(h, t) + h.C4;
}

/** Vec4 index of token t's row in out and dout (B, T, C). */
fn outAt(h: Head, t: u32) -> u32 {
  return h.o + t * h.C4;
}

/** Token j's key and value: what a query row visits. */
struct KeyValue {
  k: Row,
  v: Row,
}

fn loadKeyValue(h: Head, j: u32) -> KeyValue {
  let ko = keyAt(h, j);
  return KeyValue(loadRow(QKV, ko), loadRow(QKV, ko + h.C4));
}

/** The causal mask: query t sees key j iff j <= t. */
fn visible(own: u32, other: u32) -> bool {
  if (OWNS_QUERIES) {
    return other <= own;
  }
  return other >= own;
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
  let i0 = (thread % params.threadsPerHead) * ROWS;

  // Rows past T repeat row T-1: a little wasted work, never written.
  var r0 = start(h, min(i0, last), scale);
  var r1 = r0;
  var r2 = r0;
  var r3 = r0;
  if (ROWS > 1u) { r1 = start(h, min(i0 + 1u, last), scale); }
  if (ROWS > 2u) { r2 = start(h, min(i0 + 2u, last), scale); }
  if (ROWS > 3u) { r3 = start(h, min(i0 + 3u, last), scale); }

  // Causal: query rows i0.. visit keys 0..i0+ROWS-1 (the last row's range covers the earlier
  // ones'); key rows i0.. visit queries i0..T-1 (the first row's range covers the others').
  var first = i0;
  var end = T;
  if (OWNS_QUERIES) {
    first = 0u;
    end = min(i0 + ROWS, T);
  }
  for (var j = first; j < end; j++) {
    let x = visit(h, j);
    r0 = step(r0, x, visible(i0, j));
    if (ROWS > 1u) { r1 = step(r1, x, visible(i0 + 1u, j)); }
    if (ROWS > 2u) { r2 = step(r2, x, visible(i0 + 2u, j)); }
    if (ROWS > 3u) { r3 = step(r3, x, visible(i0 + 3u, j)); }
  }

  finish(h, r0, i0, scale);
  if (ROWS > 1u) { finish(h, r1, i0 + 1u, scale); }
  if (ROWS > 2u) { finish(h, r2, i0 + 2u, scale); }
  if (ROWS > 3u) { finish(h, r3, i0 + 3u, scale); }
}
