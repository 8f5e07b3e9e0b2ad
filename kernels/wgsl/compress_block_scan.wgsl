// Stream compaction, step 2: exclusive scans over the blocks, in one thread (a block is
// 1024 indices, so a million parameters are under a thousand steps): where each block's
// kept values start in the output, and how many threshold ties come before it.

@group(0) @binding(0) var<storage, read_write> block_out: array<u32>;
@group(0) @binding(1) var<storage, read_write> block_tie_start: array<u32>;
@group(0) @binding(2) var<storage, read> block_above: array<u32>;
@group(0) @binding(3) var<storage, read> block_ties: array<u32>;
@group(0) @binding(4) var<storage, read> state: array<u32, 4>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(1)
fn main() {
  let allowance = state[STATE_TIES];
  var out = 0u;
  var ties = 0u;
  for (var b = 0u; b < params.blocks; b++) {
    block_out[b] = out;
    block_tie_start[b] = ties;
    let block = block_ties[b];
    let taken = min(block, allowance - min(allowance, ties));
    out += block_above[b] + taken;
    ties += block;
  }
}
