// Causal multi-head self-attention, backward, second half: dk and dv for each key row
// (FlashAttention-2, arXiv:2307.08691, Algorithm 2, with the loop over queries inside one
// thread). For key j and every query t >= j, p = exp(s - lse_t) is rebuilt from q, k and the
// forward pass's lse, and D_t = dout_t . out_t comes from attention_backward_dq.wgsl:
//   dv_j = sum_t p dout_t,   dk_j = scale * sum_t p (dout_t . v_j - D_t) q_t.
// Queries are summed in a fixed order by one thread: no atomics, deterministic.

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  blocks: u32, // key blocks per (batch, head): ceil(T / (WORKGROUP_SIZE * ROWS))
  groups: u32, // B * NH * blocks; the 2-D grid may overshoot it
}

@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>; // (B, T, 3C), k and v thirds written
@group(0) @binding(1) var<storage, read> D: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(3) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(4) var<storage, read> lse: array<f32>; // (B, NH, T)
@group(0) @binding(5) var<uniform> params: Params;

override HS: u32 = 32u; // head size: a multiple of 4, at most 4 * MAX_HS4
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 1u; // key rows per thread, at most MAX_ROWS: each q, dout load serves them all

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
  let j0 = ((group % params.blocks) * WORKGROUP_SIZE + lid) * ROWS;
  if (j0 >= T) {
    return;
  }
  let HS4 = HS / 4u;
  let C4 = params.NH * HS4;
  let rowStride = 3u * C4;
  let head = (bh % params.NH) * HS4;
  let seq = (bh / params.NH) * T;
  let scale = inverseSqrt(f32(HS));

  var k = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>(); // pre-scaled, so q . k is the score
  var v = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  var dk = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  var dv = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  for (var r = 0u; r < ROWS; r++) {
    // Rows past T repeat row T-1: they cost a little work and are never written.
    let ko = (seq + min(j0 + r, T - 1u)) * rowStride + C4 + head;
    for (var i = 0u; i < HS4; i++) {
      k[r][i] = qkv[ko + i] * scale;
      v[r][i] = qkv[ko + C4 + i];
    }
  }

  // Causal: only queries t >= j see key j; the first row's range covers all the others.
  for (var t = j0; t < T; t++) {
    let qo = (seq + t) * rowStride + head;
    let go = (seq + t) * C4 + head;
    var s = array<f32, MAX_ROWS>();
    var dp = array<f32, MAX_ROWS>();
    for (var i = 0u; i < HS4; i++) {
      let qi = qkv[qo + i];
      let gi = dout[go + i];
      for (var r = 0u; r < ROWS; r++) {
        s[r] += dot(qi, k[r][i]);
        dp[r] += dot(gi, v[r][i]);
      }
    }
    let rowLse = lse[bh * T + t];
    let rowD = D[bh * T + t];
    var p = array<f32, MAX_ROWS>();
    var ds = array<f32, MAX_ROWS>();
    for (var r = 0u; r < ROWS; r++) {
      p[r] = select(0.0, exp(s[r] - rowLse), t >= j0 + r);
      ds[r] = p[r] * (dp[r] - rowD);
    }
    for (var i = 0u; i < HS4; i++) {
      let qi = qkv[qo + i];
      let gi = dout[go + i];
      for (var r = 0u; r < ROWS; r++) {
        dv[r][i] += p[r] * gi;
        dk[r][i] += ds[r] * qi;
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let j = j0 + r;
    if (j < T) {
      let ko = (seq + j) * rowStride + C4 + head;
      for (var i = 0u; i < HS4; i++) {
        dqkv[ko + i] = dk[r][i] * scale;
        dqkv[ko + C4 + i] = dv[r][i];
      }
    }
  }
}
