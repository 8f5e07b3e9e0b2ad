// Blockwise quantization of the kept values (protocol/quantize.ts is the format and says why
// the scale differs by width): one workgroup per block of BLOCK_SIZE values; scale s = max |v|
// for 2 bits and more, the mean |v| for 1 bit (summed in a fixed order, so the CPU reference
// gets the same bits); step = (2 s) / L, code q = floor((v + s) / step + u) clamped to [0, L]
// with u uniform in [0, 1) from the hash of this peer's rounding seed and the value's
// position, so rounding within [-s, s] is unbiased. Codes are packed least-significant first,
// 32 / BITS per word, in the kernel, so only the packed words are read back. BITS = 32 copies
// the f32 bits instead.

@group(0) @binding(0) var<storage, read_write> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> scales: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 64u;
override BITS: u32 = 4u;
override BLOCK_SIZE: u32 = 128u; // a multiple of 32

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let first = wid.x * BLOCK_SIZE;
  if (BITS == 32u) {
    for (var j = lid.x; j < BLOCK_SIZE; j += WORKGROUP_SIZE) {
      if (first + j < params.k) {
        words[first + j] = bitcast<u32>(values[first + j]);
      }
    }
    return;
  }
  var m = 0.0;
  for (var j = lid.x; j < BLOCK_SIZE; j += WORKGROUP_SIZE) {
    if (first + j < params.k) {
      let a = abs(values[first + j]);
      if (BITS == 1u) {
        m += a;
      } else {
        m = max(m, a);
      }
    }
  }
  partial[lid.x] = m;
  workgroupBarrier();
  var s = 0.0;
  for (var t = 0u; t < WORKGROUP_SIZE; t++) {
    if (BITS == 1u) {
      s += partial[t];
    } else {
      s = max(s, partial[t]);
    }
  }
  if (BITS == 1u) {
    s = s / f32(min(BLOCK_SIZE, params.k - first));
  }
  if (lid.x == 0u) {
    scales[wid.x] = s;
  }
  // BITS is at most 8 here (32 returned above); min() keeps `1u << 32u` out of the constant
  // evaluation, which WGSL refuses at pipeline creation even on a path never taken.
  let levels = (1u << min(BITS, 8u)) - 1u;
  let step = (2.0 * s) / f32(levels);
  let per_word = 32u / BITS;
  let words_per_block = BLOCK_SIZE / per_word;
  for (var w = lid.x; w < words_per_block; w += WORKGROUP_SIZE) {
    var word = 0u;
    for (var c = 0u; c < per_word; c++) {
      let j = first + w * per_word + c;
      if (j < params.k && s > 0.0) {
        let u = f32(random_k_hash(params.rounding_seed, j) >> 8u) / 16777216.0;
        let t = floor((values[j] + s) / step + u);
        let q = u32(clamp(t, 0.0, f32(levels)));
        word |= q << (c * BITS);
      }
    }
    words[wid.x * words_per_block + w] = word;
  }
}
