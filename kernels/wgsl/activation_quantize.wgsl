// Blockwise symmetric quantization of one microbatch's boundary tensor for the wire
// (protocol/activation-frame.ts is the format; kernels/reference/activation-codec.ts the CPU
// reference and why activations round to nearest and gradients may round stochastically). One
// workgroup per block of BLOCK_SIZE values; random_k_hash.wgsl is prepended.
// d = v, or v − cached for DELTA (AQ-SGD: the change against the copy both peers hold);
// s = max |d| · (1/L), L = 2^(BITS−1) − 1, as a multiply by the exact f32 INVERSE_LEVELS because
// WGSL allows a division 2.5 ulp of error and the scale must equal the CPU's bit for bit;
// t = d / s, q = round(t) (ties to even), or for STOCHASTIC ⌊t⌋ + 1 when the noise of value i is
// below t − ⌊t⌋, else ⌊t⌋; q clamped to [-L, L], stored two's complement in BITS bits as one
// bit stream, least-significant first (protocol/signed-codes.ts), so only the packed words are
// read back.

struct Params {
  count: u32, // rows * width
  blocks: u32, // ceil(count / BLOCK_SIZE)
  rounding_seed: u32, // this frame's noise, read when STOCHASTIC
}

@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> scales: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
// Read only when DELTA; the plain codecs bind `values` here again.
@group(0) @binding(3) var<storage, read> cached: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 64u;
override BITS: u32 = 8u; // 8, 4, 3 or 2
override BLOCK_SIZE: u32 = 128u; // a multiple of 32, so a block is BITS whole words per 32 values
override DELTA: bool = false;
override STOCHASTIC: bool = false;
// f32(1 / L), computed by the caller (no default): an f32 passed as a pipeline constant arrives
// exactly, where a decimal literal here would be rounded by the compiler its own way.
override INVERSE_LEVELS: f32;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn quantized_input(i: u32) -> f32 {
  if (DELTA) {
    return values[i] - cached[i];
  }
  return values[i];
}

// The signed code of value i in a block of scale s > 0.
fn code(i: u32, s: f32, levels: f32) -> i32 {
  let t = quantized_input(i) / s;
  var q = round(t);
  if (STOCHASTIC) {
    let low = floor(t);
    // The hash's top 24 bits as a float in [0, 1): exact, as protocol/random-k.ts's unitFromHash.
    let u = f32(random_k_hash(params.rounding_seed, i) >> 8u) * 0x1p-24f;
    q = low + select(0.0, 1.0, u < t - low);
  }
  return i32(clamp(q, -levels, levels));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // Past 65535 blocks the grid folds into y (kernels/gpu/grid.ts); the overshoot leaves at once.
  let block = wid.x + wid.y * groups.x;
  if (block >= params.blocks) {
    return;
  }
  let first = block * BLOCK_SIZE;
  let end = min(first + BLOCK_SIZE, params.count);
  var m = 0.0;
  for (var i = first + lid.x; i < end; i += WORKGROUP_SIZE) {
    m = max(m, abs(quantized_input(i)));
  }
  partial[lid.x] = m;
  workgroupBarrier();
  // max is exact and order-free: every thread reaches the same block max, no second barrier.
  var block_max = 0.0;
  for (var t = 0u; t < WORKGROUP_SIZE; t++) {
    block_max = max(block_max, partial[t]);
  }
  let levels = f32((1u << (BITS - 1u)) - 1u);
  let s = block_max * INVERSE_LEVELS;
  if (lid.x == 0u) {
    scales[block] = s;
  }
  let words_per_block = BLOCK_SIZE * BITS / 32u;
  let mask = (1u << BITS) - 1u;
  for (var w = lid.x; w < words_per_block; w += WORKGROUP_SIZE) {
    // This word holds bits [32 w, 32 w + 32) of the block's stream: the codes from the one that
    // straddles its start (3 bits) to the last one that starts in it. A straddling code is
    // computed by both of its words' threads, the same way.
    var word = 0u;
    for (var c = (32u * w) / BITS; c <= (32u * w + 31u) / BITS; c++) {
      let i = first + c;
      // s = 0 (an all-zero block) and the last block's padding stay zero codes.
      if (i < end && s > 0.0) {
        let q = bitcast<u32>(code(i, s, levels)) & mask;
        let at = i32(c * BITS) - i32(32u * w);
        if (at >= 0) {
          word |= q << u32(at);
        } else {
          word |= q >> u32(-at);
        }
      }
    }
    words[block * words_per_block + w] = word;
  }
}
