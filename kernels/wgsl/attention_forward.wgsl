// Causal multi-head self-attention, forward, fused: scale, causal mask, softmax and the
// weighted sum of values in one pass, with the online softmax of FlashAttention-2 (Dao 2023,
// arXiv:2307.08691, Algorithm 1): scores are never stored, each thread keeps a running max `m`,
// sum `l` and unnormalised output `acc` for its query rows and rescales them once per block of
// BLOCK_K keys. Memory therefore grows as T, not T x T; lse = m + log(l) is saved per row so
// the backward pass can rebuild the softmax.
//
// One thread owns ROWS consecutive query rows of one (batch, head) and loops over keys 0..t.
// Every key and value it loads serves all ROWS rows (register blocking rather than shared
// memory tiles: SwiftShader pays dearly for workgroup barriers, and on real GPUs the K/V rows
// of a head are shared by all threads of a workgroup through the cache).

struct Params {
  T: u32, // sequence length
  NH: u32, // heads; C = NH * HS
  blocks: u32, // query blocks per (batch, head): ceil(T / (WORKGROUP_SIZE * ROWS))
  groups: u32, // B * NH * blocks; the 2-D grid may overshoot it
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>; // (B, T, C)
@group(0) @binding(1) var<storage, read_write> lse: array<f32>; // (B, NH, T)
@group(0) @binding(2) var<storage, read> qkv: array<vec4<f32>>; // (B, T, 3C)
@group(0) @binding(3) var<uniform> params: Params;

override HS: u32 = 32u; // head size: a multiple of 4, at most 4 * MAX_HS4
override WORKGROUP_SIZE: u32 = 64u;
override ROWS: u32 = 1u; // query rows per thread, at most MAX_ROWS
override BLOCK_K: u32 = 8u; // keys per online-softmax rescale, at most MAX_BLOCK_K

// Private arrays need constant sizes in WGSL; the loops below only touch the first
// HS / 4, ROWS and BLOCK_K entries, which the driver knows once the overrides are set.
const MAX_HS4 = 16u;
const MAX_ROWS = 4u;
const MAX_BLOCK_K = 16u;
// Stands in for -infinity (WGSL has no infinity literal): exp(NEG - m) is exactly 0.
const NEG = -1e30;

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
  let seq = (bh / params.NH) * T; // row of token 0 of this sequence
  // The scale is folded into q once instead of into every score.
  let scale = inverseSqrt(f32(HS));

  var q = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  var acc = array<array<vec4<f32>, MAX_HS4>, MAX_ROWS>();
  var m = array<f32, MAX_ROWS>();
  var l = array<f32, MAX_ROWS>();
  var s = array<array<f32, MAX_BLOCK_K>, MAX_ROWS>();
  for (var r = 0u; r < ROWS; r++) {
    // Rows past T repeat row T-1: they cost a little work and are never written.
    let qo = (seq + min(t0 + r, T - 1u)) * rowStride + head;
    for (var i = 0u; i < HS4; i++) {
      q[r][i] = qkv[qo + i] * scale;
    }
    m[r] = NEG;
  }

  // Causal: the last row reads keys 0..t0+ROWS-1, earlier rows mask the tail.
  let nk = min(t0 + ROWS, T);
  for (var kb = 0u; kb < nk; kb += BLOCK_K) {
    // Scores for this block of keys; keys past nk or past a row's own position score NEG.
    for (var jj = 0u; jj < BLOCK_K; jj++) {
      let j = kb + jj;
      var qk = array<f32, MAX_ROWS>();
      if (j < nk) {
        let ko = (seq + j) * rowStride + C4 + head;
        for (var i = 0u; i < HS4; i++) {
          let k = qkv[ko + i];
          for (var r = 0u; r < ROWS; r++) {
            qk[r] += dot(q[r][i], k);
          }
        }
      }
      for (var r = 0u; r < ROWS; r++) {
        s[r][jj] = select(NEG, qk[r], j <= t0 + r && j < nk);
      }
    }
    // Online softmax: raise the running max to the block's, rescale l and acc once.
    for (var r = 0u; r < ROWS; r++) {
      var mb = m[r];
      for (var jj = 0u; jj < BLOCK_K; jj++) {
        mb = max(mb, s[r][jj]);
      }
      let alpha = exp(m[r] - mb);
      m[r] = mb;
      var sum = l[r] * alpha;
      for (var i = 0u; i < HS4; i++) {
        acc[r][i] *= alpha;
      }
      for (var jj = 0u; jj < BLOCK_K; jj++) {
        let p = exp(s[r][jj] - mb);
        s[r][jj] = p;
        sum += p;
      }
      l[r] = sum;
    }
    for (var jj = 0u; jj < BLOCK_K; jj++) {
      let j = kb + jj;
      if (j < nk) {
        let vo = (seq + j) * rowStride + 2u * C4 + head;
        for (var i = 0u; i < HS4; i++) {
          let v = qkv[vo + i];
          for (var r = 0u; r < ROWS; r++) {
            acc[r][i] += s[r][jj] * v;
          }
        }
      }
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    let t = t0 + r;
    if (t < T) {
      let oo = (seq + t) * C4 + head;
      let inv = 1.0 / l[r];
      for (var i = 0u; i < HS4; i++) {
        out[oo + i] = acc[r][i] * inv;
      }
      lse[bh * T + t] = m[r] + log(l[r]);
    }
  }
}
