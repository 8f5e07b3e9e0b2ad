// Causal multi-head self-attention, backward, first half: dq for each query row, and the
// per-row D = dout . out that both halves need (FlashAttention-2, arXiv:2307.08691,
// Algorithm 2). Nothing of size T x T exists: each thread rebuilds p = exp(s - lse) for its
// rows from q, k and the forward pass's lse, key by key:
//   dp_j = dout . v_j,   ds_j = p_j (dp_j - D),   dq = scale * sum_j ds_j k_j   (j <= t).
// Keys are summed in a fixed order by one thread, so the result is deterministic.
// attention_backward_dkv.wgsl runs after this (same pass) and reads D.

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  blocks: u32, // query blocks per (batch, head): ceil(T / (WORKGROUP_SIZE * ROWS))
  groups: u32, // B * NH * blocks; the 2-D grid may overshoot it
}

@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>; // (B, T, 3C), q third written
@group(0) @binding(1) var<storage, read_write> D: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(3) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(4) var<storage, read> out: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(5) var<storage, read> lse: array<f32>; // (B, NH, T)
@group(0) @binding(6) var<uniform> params: Params;

override HS: u32 = 32u; // head size: a multiple of 4, at most 4 * MAX_HS4
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 1u; // query rows per thread, at most MAX_ROWS: each k, v load serves them all

const MAX_HS4 = 16u;
const MAX_ROWS = 4u;

// Every `var` gets an explicit initializer: Dawn on SwiftShader was seen to zero a `var`
// declared without one only once per invocation, not each time a loop body declares it.
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let group = wid.y * nwg.x + wid.x;
  if (group >= params.groups) {
    return;
  }
  let T = params.T;
  let bh = group / params.blocks;
  let t0 = ((group % params.blocks) * WORKGROUP_SIZE + lid) * ROWS;
  if (t0 >= T) {
    return;
  }
  let HS4 = HS / 4u;
  let C4 = params.NH * HS4;
  let rowStride = 3u * C4;
  let head = (bh % params.NH) * HS4;
  let seq = (bh / params.NH) * T;
  let scale = inverseSqrt(f32(HS));

  var q = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>(); // pre-scaled, so q . k is the score
  var g = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>(); // dout rows
  var dq = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  var rowLse = array<f32, MAX_ROWS>();
  var rowD = array<f32, MAX_ROWS>();
  for (var r = 0u; r < ROWS; r++) {
    // Rows past T repeat row T-1: they cost a little work and are never written.
    let t = min(t0 + r, T - 1u);
    let qo = (seq + t) * rowStride + head;
    let oo = (seq + t) * C4 + head;
    var d = 0.0;
    for (var i = 0u; i < HS4; i++) {
      q[r][i] = qkv[qo + i] * scale;
      g[r][i] = dout[oo + i];
      d += dot(g[r][i], out[oo + i]);
    }
    rowD[r] = d;
    rowLse[r] = lse[bh * T + t];
  }

  let nk = min(t0 + ROWS, T);
  for (var j = 0u; j < nk; j++) {
    let ko = (seq + j) * rowStride + C4 + head;
    let vo = ko + C4;
    var s = array<f32, MAX_ROWS>();
    var dp = array<f32, MAX_ROWS>();
    for (var i = 0u; i < HS4; i++) {
      let k = qkv[ko + i];
      let v = qkv[vo + i];
      for (var r = 0u; r < ROWS; r++) {
        s[r] += dot(q[r][i], k);
        dp[r] += dot(g[r][i], v);
      }
    }
    var ds = array<f32, MAX_ROWS>();
    for (var r = 0u; r < ROWS; r++) {
      // Causal mask: keys after the row's own position get p = 0 exactly.
      let p = select(0.0, exp(s[r] - rowLse[r]), j <= t0 + r);
      ds[r] = p * (dp[r] - rowD[r]);
    }
    for (var i = 0u; i < HS4; i++) {
      let k = qkv[ko + i];
      for (var r = 0u; r < ROWS; r++) {
        dq[r][i] += ds[r] * k;
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let t = t0 + r;
    if (t < T) {
      let qo = (seq + t) * rowStride + head;
      for (var i = 0u; i < HS4; i++) {
        dqkv[qo + i] = dq[r][i] * scale;
      }
      D[bh * T + t] = rowD[r];
    }
  }
}
