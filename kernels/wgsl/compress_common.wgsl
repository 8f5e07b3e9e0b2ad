// Shared by every compress_*.wgsl kernel (kernels/compress/shaders.ts prepends it): the
// parameters of one compression call and the random-k hash. The hash mirrors
// protocol/random-k.ts word for word; u32 multiplication wraps exactly like Math.imul, so the
// GPU, the browser and Node pick the same candidates.

struct Params {
  n: u32, // parameters
  seed: u32, // the round's shared random-k seed
  keep_max: u32, // candidate iff hash <= keep_max
  k: u32, // values top-k keeps
  blocks: u32, // compaction blocks of BLOCK elements
  rounding_seed: u32, // this peer's stochastic-rounding noise
}

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

// Selection state written by compress_select_bin.wgsl, read by the later kernels.
const STATE_PREFIX = 0u; // high bits of the threshold key found so far
const STATE_REMAINING = 1u; // values still to select among keys under the prefix
const STATE_THRESHOLD = 2u; // the k-th largest key
const STATE_TIES = 3u; // how many keys equal to the threshold are kept (lowest indices first)
