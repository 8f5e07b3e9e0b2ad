// The random-k hash (protocol/random-k.ts's randomKHash, word for word): u32 multiplication
// wraps exactly like Math.imul, so the GPU, the browser and Node get the same words. The
// compression kernels pick candidates and round with it (kernels/compress/shaders.ts), the
// activation encoder rounds stochastically with it (activation_quantize.wgsl).

fn fmix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

fn random_k_hash(seed: u32, index: u32) -> u32 {
  return fmix32((index * 0x9e3779b1u) ^ fmix32(seed ^ 0x68e31da4u));
}
