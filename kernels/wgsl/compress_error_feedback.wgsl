// Error feedback: residual = acc − what was sent, so the next round carries what this one
// dropped or rounded away. SCATTER = false copies acc into residual; SCATTER = true then
// subtracts the decoded values (uploaded from the CPU decoder, so the residual uses exactly
// the floats every peer summed) at the kept indices. One subtraction per value: exact.

@group(0) @binding(0) var<storage, read_write> residual: array<f32>;
@group(0) @binding(1) var<storage, read> acc: array<f32>;
@group(0) @binding(2) var<storage, read> kept_index: array<u32>;
@group(0) @binding(3) var<storage, read> sent: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;
override SCATTER: bool = false;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  if (SCATTER) {
    for (var j = gid.x; j < params.k; j += stride) {
      let i = kept_index[j];
      residual[i] = acc[i] - sent[j];
    }
  } else {
    for (var i = gid.x; i < params.n; i += stride) {
      residual[i] = acc[i];
    }
  }
}
