// Causal multi-head self-attention, backward, second half: dk and dv for each key row
// (FlashAttention-2, arXiv:2307.08691, Algorithm 2, with the loop over queries inside one
// thread). For key j and every query t >= j the softmax is rebuilt from q, k and the forward
// pass's lse; D_t = dout_t . out_t comes from attention_backward_dq.wgsl:
//   p = exp(q_t . k_j / sqrt(HS) - lse_t),  dv_j = sum_t p dout_t,
//   dk_j = sum_t p (dout_t . v_j - D_t) q_t / sqrt(HS),
// summed over t in a fixed order by one thread: deterministic, no atomics.
//
// One thread owns ROWS consecutive key rows of one (batch, head) and walks queries j..T-1
// once; attention_common.wgsl (prepended) holds the walk.

@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>; // (B, T, 3C): k, v thirds written
@group(0) @binding(1) var<storage, read> D: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(3) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>; // (B, NH, T)
@group(0) @binding(5) var<uniform> params: Params;

const OWNS_QUERIES = false;

fn fetch(src: u32, at: u32) -> vec4<f32> {
  switch src {
    case QKV: { return qkv[at]; }
    default: { return dout[at]; }
  }
}

fn store(at: u32, value: vec4<f32>) {
  dqkv[at] = value;
}

/** One key row's state. */
struct State {
  k: Row, // pre-scaled by 1/sqrt(HS), so q . k is the score
  v: Row,
  dk: Row, // unscaled: times 1/sqrt(HS) at the end
  dv: Row,
}

/** One query row q with its upstream gradient g, lse and D. */
struct Visit {
  q: Row,
  g: Row,
  lse: f32,
  D: f32,
}

fn start(h: Head, j: u32, scale: f32) -> State {
  let kv = loadKeyValue(h, j);
  return State(rowScale(scale, kv.k), kv.v, Row(), Row());
}

fn visit(h: Head, t: u32) -> Visit {
  return Visit(loadRow(QKV, queryAt(h, t)), loadRow(DOUT, outAt(h, t)), lse[h.l + t], D[h.l + t]);
}

/** `visible` is the causal mask. */
fn step(s: State, x: Visit, visible: bool) -> State {
  let p = select(0.0, exp(rowDot(x.q, s.k) - x.lse), visible);
  let ds = p * (rowDot(x.g, s.v) - x.D);
  return State(s.k, s.v, rowMix(1.0, s.dk, ds, x.q), rowMix(1.0, s.dv, p, x.g));
}

fn finish(h: Head, s: State, j: u32, scale: f32) {
  if (j < params.T) {
    let ko = keyAt(h, j);
    storeRow(ko, rowScale(scale, s.dk));
    storeRow(ko + h.C4, s.dv);
  }
}
