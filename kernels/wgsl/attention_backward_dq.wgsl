// Causal multi-head self-attention, backward, first half: dq for each query row, and the
// per-row D = dout . out that both halves need (FlashAttention-2, arXiv:2307.08691,
// Algorithm 2). Nothing of size T x T exists: the softmax is rebuilt key by key from q, k and
// the forward pass's lse,
//   p_j = exp(q . k_j / sqrt(HS) - lse),  ds_j = p_j (dout . v_j - D),  dq = sum_j ds_j k_j / sqrt(HS),
// over keys j <= t, summed in a fixed order by one thread: deterministic, no atomics.
// attention_backward_dkv.wgsl runs next (same pass) and reads D.
//
// One thread owns ROWS consecutive query rows of one (batch, head), walked as in
// attention_forward.wgsl by attention_common.wgsl (prepended).

@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>; // (B, T, 3C): q third written
@group(0) @binding(1) var<storage, read_write> D: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(3) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(4) var<storage, read> out: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(5) var<storage, read> lse: array<f32>; // (B, NH, T)
@group(0) @binding(6) var<uniform> params: Params;

const OWNS_QUERIES = true;

fn fetch(src: u32, at: u32) -> vec4<f32> {
  switch src {
    case QKV: { return qkv[at]; }
    case DOUT: { return dout[at]; }
    default: { return out[at]; }
  }
}

fn store(at: u32, value: vec4<f32>) {
  dqkv[at] = value;
}

/** One query row's state. */
struct State {
  q: Row, // pre-scaled by 1/sqrt(HS), so q . k is the score
  g: Row, // dout
  dq: Row, // unscaled: times 1/sqrt(HS) at the end
  lse: f32,
  D: f32,
}

alias Visit = KeyValue;

fn start(h: Head, t: u32, scale: f32) -> State {
  let g = loadRow(DOUT, outAt(h, t));
  let q = rowScale(scale, loadRow(QKV, queryAt(h, t)));
  return State(q, g, Row(), lse[h.l + t], rowDot(g, loadRow(OUT, outAt(h, t))));
}

fn visit(h: Head, j: u32) -> Visit {
  return loadKeyValue(h, j);
}

/** `visible` is the causal mask. */
fn step(s: State, x: Visit, visible: bool) -> State {
  let p = select(0.0, exp(rowDot(s.q, x.k) - s.lse), visible);
  let ds = p * (rowDot(s.g, x.v) - s.D);
  return State(s.q, s.g, rowMix(1.0, s.dq, ds, x.k), s.lse, s.D);
}

fn finish(h: Head, s: State, t: u32, scale: f32) {
  if (t < params.T) {
    storeRow(queryAt(h, t), rowScale(scale, s.dq));
    D[h.l + t] = s.D;
  }
}
