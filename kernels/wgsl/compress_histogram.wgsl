// One pass of the radix select for top-k: counts the keys whose bits above SHIFT + 8 equal
// the prefix found so far, by their 8 bits at SHIFT. Workgroup-local counts first, then one
// global atomicAdd per bin and workgroup; integer atomics make the counts exact in any order.

@group(0) @binding(0) var<storage, read_write> hist: array<atomic<u32>, 256>;
@group(0) @binding(1) var<storage, read> keys: array<u32>;
@group(0) @binding(2) var<storage, read> state: array<u32, 4>;
@group(0) @binding(3) var<uniform> params: Params;

override WORKGROUP_SIZE: u32 = 256u;
override SHIFT: u32 = 24u; // 24, 16, 8, 0: the byte this pass looks at

var<workgroup> local_hist: array<atomic<u32>, 256>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  for (var b = lid.x; b < 256u; b += WORKGROUP_SIZE) {
    atomicStore(&local_hist[b], 0u);
  }
  workgroupBarrier();
  // The bits above this pass's byte (none on the first pass). Written so that no constant
  // shift overflows: WGSL refuses `0xffffffffu << 24u` at pipeline creation.
  let below = (1u << min(SHIFT + 8u, 31u)) - 1u;
  let mask = select(~below, 0u, SHIFT >= 24u);
  let prefix = state[STATE_PREFIX];
  let stride = groups.x * WORKGROUP_SIZE;
  for (var i = gid.x; i < params.n; i += stride) {
    let key = keys[i];
    if ((key & mask) == prefix) {
      atomicAdd(&local_hist[(key >> SHIFT) & 0xffu], 1u);
    }
  }
  workgroupBarrier();
  for (var b = lid.x; b < 256u; b += WORKGROUP_SIZE) {
    let count = atomicLoad(&local_hist[b]);
    if (count > 0u) {
      atomicAdd(&hist[b], count);
    }
  }
}
