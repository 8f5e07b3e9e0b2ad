// The entry point of the kernels that run one thread per item on the grid kernels/gpu/grid.ts
// folds: 1-D workgroups on a 2-D grid, because big tensors need more than the device's 65535
// workgroups in x. Prepended by withGridEntry (WGSL has no includes) to a kernel that defines
//   fn thread_count() -> u32   how many threads do work (the grid's overshoot is dropped),
//   fn run_thread(i: u32)      the work of thread i, the flat index over the grid.
// Every dispatch sets WORKGROUP_SIZE: the grid was sized with it.

override WORKGROUP_SIZE: u32;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i < thread_count()) {
    run_thread(i);
  }
}
