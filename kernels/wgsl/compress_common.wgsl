// Shared by every compress_*.wgsl kernel (kernels/compress/shaders.ts prepends it, after
// random_k_hash.wgsl): the parameters of one compression call and the selection state.

struct Params {
  n: u32, // parameters
  seed: u32, // the round's shared random-k seed
  keep_max: u32, // candidate iff hash <= keep_max
  k: u32, // values top-k keeps
  blocks: u32, // compaction blocks of BLOCK elements
  rounding_seed: u32, // this peer's stochastic-rounding noise
  error_decay: f32, // β: the share of the unsent residual the next round carries
}

// Selection state written by compress_select_bin.wgsl, read by the later kernels.
const STATE_PREFIX = 0u; // high bits of the threshold key found so far
const STATE_REMAINING = 1u; // values still to select among keys under the prefix
const STATE_THRESHOLD = 2u; // the k-th largest key
const STATE_TIES = 3u; // how many keys equal to the threshold are kept (lowest indices first)
