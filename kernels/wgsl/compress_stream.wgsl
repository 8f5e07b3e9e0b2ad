// The entry point of the compression kernels that stream over one array, a thread per index
// (kernels/compress/shaders.ts prepends it after compress_common.wgsl): a grid-stride loop,
// because the grid is capped at MAX_STREAM_GROUPS workgroups however long the array. The kernel
// defines
//   fn stream_count() -> u32   how many indices the pass covers,
//   fn stream_item(i: u32)     the work at index i.

override WORKGROUP_SIZE: u32 = 256u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < stream_count(); i += stride) {
    stream_item(i);
  }
}
