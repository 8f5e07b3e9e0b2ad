// Stream compaction, step 1: for each block of BLOCK = WORKGROUP_SIZE x PER_THREAD
// consecutive indices, how many keys exceed the threshold (always kept) and how many equal it
// (kept while the tie allowance lasts, lowest indices first).

@group(0) @binding(0) var<storage, read_write> block_above: array<u32>;
@group(0) @binding(1) var<storage, read_write> block_ties: array<u32>;
@group(0) @binding(2) var<storage, read> keys: array<u32>;
@group(0) @binding(3) var<storage, read> state: array<u32, 4>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> above_count: atomic<u32>;
var<workgroup> tie_count: atomic<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  if (lid.x == 0u) {
    atomicStore(&above_count, 0u);
    atomicStore(&tie_count, 0u);
  }
  workgroupBarrier();
  let threshold = state[STATE_THRESHOLD];
  let first = (wid.x * WORKGROUP_SIZE + lid.x) * PER_THREAD;
  let counts = count_keys(first, threshold);
  atomicAdd(&above_count, counts.x);
  atomicAdd(&tie_count, counts.y);
  workgroupBarrier();
  if (lid.x == 0u) {
    block_above[wid.x] = atomicLoad(&above_count);
    block_ties[wid.x] = atomicLoad(&tie_count);
  }
}
