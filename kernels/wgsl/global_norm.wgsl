// Global L2 norm of a gradient buffer of n floats (n/4 vec4s), deterministic and without
// atomics, in two dispatches of this shader:
//   FINAL = false: workgroup g sums the squares of its fixed chunk of CHUNK = WORKGROUP_SIZE *
//     PER_THREAD vec4s (thread l takes vec4s l, l + WORKGROUP_SIZE, ...; strided so that
//     neighbouring threads read neighbouring memory), then a fixed tree in workgroup memory;
//     partials[g] = the chunk's sum.
//   FINAL = true: one workgroup adds partials[0 .. groups) the same way and writes
//     result[0] = sqrt(sum), result[1] = sum.                           OVERWRITES result (2)
// Every addition happens in an order fixed by n and the override constants alone, so the
// norm is bit-identical run to run (and on every peer with the same tunables). AdamW reads
// result[0] for clipping; the CPU may read it back for logging.
// The tree costs log2(WORKGROUP_SIZE) barriers, which SwiftShader runs as coroutine
// switches: it gets narrow workgroups and long per-thread loops (kernels/ops/gradnorm.ts).

struct Params {
  n4: u32, // vec4s in grads
  groups: u32, // partial sums written by the first dispatch
}

@group(0) @binding(0) var<storage, read_write> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u; // a power of two, for the tree
override PER_THREAD: u32 = 16u;
override FINAL: bool = false;

var<workgroup> scratch: array<f32, WORKGROUP_SIZE>;

fn chunk_sum(lid: u32, first: u32) -> f32 {
  var acc = vec4(0.0);
  for (var k = 0u; k < PER_THREAD; k++) {
    let i = first + k * WORKGROUP_SIZE + lid;
    if (i < params.n4) {
      let g = grads[i];
      acc += g * g;
    }
  }
  return (acc.x + acc.y) + (acc.z + acc.w);
}

fn partials_sum(lid: u32) -> f32 {
  var acc = 0.0;
  for (var i = lid; i < params.groups; i += WORKGROUP_SIZE) {
    acc += partials[i];
  }
  return acc;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid.x;
  if (FINAL) {
    scratch[l] = partials_sum(l);
  } else {
    scratch[l] = chunk_sum(l, wid.x * WORKGROUP_SIZE * PER_THREAD);
  }
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (l < stride) {
      scratch[l] += scratch[l + stride];
    }
  }
  if (l != 0u) {
    return;
  }
  if (FINAL) {
    result[0] = sqrt(scratch[0]);
    result[1] = scratch[0];
  } else {
    partials[wid.x] = scratch[0];
  }
}
