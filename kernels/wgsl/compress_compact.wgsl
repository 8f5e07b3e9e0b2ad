// Stream compaction, step 3: every kept index and its value, written in index order.
// Thread t of block b owns PER_THREAD consecutive indices; thread 0 scans the per-thread
// counts (a sequential scan: barriers cost more than arithmetic on SwiftShader), then each
// thread writes its kept values at the block's offset plus its prefix.

@group(0) @binding(0) var<storage, read_write> out_index: array<u32>;
@group(0) @binding(1) var<storage, read_write> out_value: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<u32>;
@group(0) @binding(3) var<storage, read> acc: array<f32>;
@group(0) @binding(4) var<storage, read> block_out: array<u32>;
@group(0) @binding(5) var<storage, read> block_tie_start: array<u32>;
@group(0) @binding(6) var<storage, read> state: array<u32, 4>;
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> thread_ties: array<u32, WORKGROUP_SIZE>;
var<workgroup> thread_above: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let threshold = state[STATE_THRESHOLD];
  let allowance = state[STATE_TIES];
  let first = (wid.x * WORKGROUP_SIZE + lid.x) * PER_THREAD;
  let counts = count_keys(first, threshold);
  thread_above[lid.x] = counts.x;
  thread_ties[lid.x] = counts.y;
  workgroupBarrier();
  if (lid.x == 0u) {
    // Exclusive prefixes: ties before each thread, then kept values before each thread.
    var tie_sum = block_tie_start[wid.x];
    var kept_sum = 0u;
    for (var t = 0u; t < WORKGROUP_SIZE; t++) {
      let thread_tie_count = thread_ties[t];
      let taken = min(thread_tie_count, allowance - min(allowance, tie_sum));
      let kept = thread_above[t] + taken;
      thread_ties[t] = tie_sum;
      thread_above[t] = kept_sum;
      tie_sum += thread_tie_count;
      kept_sum += kept;
    }
  }
  workgroupBarrier();
  var tie_rank = thread_ties[lid.x];
  var slot = block_out[wid.x] + thread_above[lid.x];
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = first + e;
    if (i < params.n) {
      let key = keys[i];
      var keep = key > threshold;
      if (key == threshold) {
        keep = tie_rank < allowance;
        tie_rank += 1u;
      }
      if (keep) {
        out_index[slot] = i;
        out_value[slot] = acc[i];
        slot += 1u;
      }
    }
  }
}
