// Shared by the stream-compaction kernels that read keys block by block,
// compress_block_counts.wgsl and compress_compact.wgsl (kernels/compress/shaders.ts prepends
// it after compress_common.wgsl): both must count a thread's kept keys the same way, or the
// offsets of step 2 would not match the writes of step 3.

override WORKGROUP_SIZE: u32 = 256u;
override PER_THREAD: u32 = 4u;

// How many of the PER_THREAD keys from `first` exceed the threshold (x) and equal it (y).
fn count_keys(first: u32, threshold: u32) -> vec2<u32> {
  var above = 0u;
  var ties = 0u;
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = first + e;
    if (i < params.n) {
      let key = keys[i];
      above += select(0u, 1u, key > threshold);
      ties += select(0u, 1u, key == threshold);
    }
  }
  return vec2<u32>(above, ties);
}
