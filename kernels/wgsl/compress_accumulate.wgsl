// acc = θ_start − θ_local + residual: the pseudo-gradient plus what earlier rounds did not
// send (error feedback). key = 0 for an index random-k drops, else bits(|acc|) + 1: the bit
// patterns of non-negative floats order like the floats, so top-k can select on integers.

@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read_write> keys: array<u32>;
@group(0) @binding(2) var<storage, read> start: array<f32>;
@group(0) @binding(3) var<storage, read> current: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < params.n; i += stride) {
    let a = (start[i] - current[i]) + residual[i];
    acc[i] = a;
    var key = 0u;
    if (random_k_hash(params.seed, i) <= params.keep_max) {
      key = bitcast<u32>(abs(a)) + 1u;
    }
    keys[i] = key;
  }
}
