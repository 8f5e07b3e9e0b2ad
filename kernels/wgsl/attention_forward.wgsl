// Causal multi-head self-attention, forward, fused: scale, causal mask, softmax and the
// weighted sum of values in one pass, with the online softmax of FlashAttention-2 (Dao 2023,
// arXiv:2307.08691, Algorithm 1): scores are never stored; each query row keeps a running max
// `m`, sum `l` and unnormalised output `acc`, rescaled as each key arrives. Memory grows as T,
// not T x T; lse = m + log(l) is saved per row so the backward pass can rebuild the softmax.
//
// One thread owns ROWS consecutive query rows of one (batch, head) and walks keys 0..t once;
// attention_common.wgsl (prepended) holds the walk, the Params uniform and the Row registers.

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(1) var<storage, read_write> lse: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(3) var<uniform> params: Params;

const OWNS_QUERIES = true;

// Stands in for -infinity (WGSL has no infinity literal): exp(NEG - m) is exactly 0.
const NEG = -1e30;

fn fetch(src: u32, at: u32) -> vec4<f32> {
  return qkv[at]; // the only input
}

fn store(at: u32, value: vec4<f32>) {
  out[at] = value;
}

/** The running state of one query row. */
struct State {
  q: Row, // pre-scaled by 1/sqrt(HS), so q . k is the score
  acc: Row,
  m: f32,
  l: f32,
}

alias Visit = KeyValue;

fn start(h: Head, t: u32, scale: f32) -> State {
  return State(rowScale(scale, loadRow(QKV, queryAt(h, t))), Row(), NEG, 0.0);
}

fn visit(h: Head, j: u32) -> Visit {
  return loadKeyValue(h, j);
}

/** One online-softmax step; `visible` is the causal mask. */
fn step(s: State, x: Visit, visible: bool) -> State {
  let score = select(NEG, rowDot(s.q, x.k), visible);
  let m = max(s.m, score);
  let alpha = exp(s.m - m); // rescales what was summed under the old max
  let p = exp(score - m);
  return State(s.q, rowMix(alpha, s.acc, p, x.v), m, s.l * alpha + p);
}

fn finish(h: Head, s: State, t: u32, scale: f32) {
  if (t < params.T) {
    storeRow(outAt(h, t), rowScale(1.0 / s.l, s.acc));
    lse[h.l + t] = s.m + log(s.l);
  }
}
