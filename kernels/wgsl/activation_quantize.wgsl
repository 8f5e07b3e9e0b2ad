// Blockwise symmetric quantization of one microbatch's boundary tensor for the wire
// (protocol/activation-frame.ts is the format; kernels/reference/activation-codec.ts the CPU
// reference and why rounding is to nearest). One workgroup per block of BLOCK_SIZE values.
// d = v, or v − cached for DELTA (AQ-SGD: the change against the copy both peers hold);
// s = max |d| · (1/L), L = 127 (8 bits) or 7 (4 bits), as a multiply by an exact f32 constant
// because WGSL allows a division 2.5 ulp of error and the scale must equal the CPU's bit for bit;
// q = round(d / s) (WGSL's round is ties-to-even) clamped to [-L, L], stored two's complement
// in BITS bits, packed least-significant first so only the packed words are read back.

struct Params {
  count: u32, // rows * width
  blocks: u32, // ceil(count / BLOCK_SIZE)
}

@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> scales: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
// Read only when DELTA; the plain codecs bind `values` here again.
@group(0) @binding(3) var<storage, read> cached: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 64u;
override BITS: u32 = 8u; // 8 or 4
override BLOCK_SIZE: u32 = 128u; // a multiple of 32
override DELTA: bool = false;

// f32(1 / 127) and f32(1 / 7), written exactly so no compiler rounds them its own way.
const INV_127: f32 = 0x1.020408p-7f;
const INV_7: f32 = 0x1.24924ap-3f;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn quantized_input(i: u32) -> f32 {
  if (DELTA) {
    return values[i] - cached[i];
  }
  return values[i];
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
  var levels = 127.0;
  var inverse = INV_127;
  if (BITS == 4u) {
    levels = 7.0;
    inverse = INV_7;
  }
  let s = block_max * inverse;
  if (lid.x == 0u) {
    scales[block] = s;
  }
  let per_word = 32u / BITS;
  let words_per_block = BLOCK_SIZE / per_word;
  let mask = (1u << BITS) - 1u;
  for (var w = lid.x; w < words_per_block; w += WORKGROUP_SIZE) {
    var word = 0u;
    for (var c = 0u; c < per_word; c++) {
      let i = first + w * per_word + c;
      // s = 0 (an all-zero block) and the last block's padding stay zero codes.
      if (i < end && s > 0.0) {
        let q = i32(clamp(round(quantized_input(i) / s), -levels, levels));
        word |= (bitcast<u32>(q) & mask) << (c * BITS);
      }
    }
    words[block * words_per_block + w] = word;
  }
}
