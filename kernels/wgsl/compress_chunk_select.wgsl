// SparseLoCo's top-k per chunk: one workgroup per chunk of CHUNK_SIZE parameters selects the
// chunk's k largest keys (k from chunk_offsets, fixed by protocol/compression-settings.ts's
// chunkTopKOffsets) and writes their indices, ascending, and their acc values at the chunk's
// place in the output. The selection is compress_histogram / _select_bin's radix select (4
// passes of 8 bits, ties to the lowest indices) run in workgroup memory, and the compaction is
// compress_block_counts / _scan / _compact's within the chunk: each thread owns a contiguous
// run of PER_THREAD keys, so two exclusive scans over the threads give every kept key its slot
// in index order. No global synchronisation, so the whole selection is one dispatch.

@group(0) @binding(0) var<storage, read_write> out_index: array<u32>;
@group(0) @binding(1) var<storage, read_write> out_value: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<u32>;
@group(0) @binding(3) var<storage, read> acc: array<f32>;
@group(0) @binding(4) var<storage, read> chunk_offsets: array<u32>;
@group(0) @binding(5) var<uniform> params: Params;

const WORKGROUP_SIZE = 256u; // CHUNK_GRANULE in protocol/compression-settings.ts
override CHUNK_SIZE: u32 = 4096u; // a multiple of WORKGROUP_SIZE

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan: array<u32, WORKGROUP_SIZE>;
// The radix select's state: the threshold's bits found so far, and how many keys under that
// prefix are still to be kept.
var<workgroup> prefix: u32;
var<workgroup> remaining: u32;

// The exclusive prefix sum of `value` over the workgroup's threads (Hillis and Steele).
fn exclusive_scan(lid: u32, value: u32) -> u32 {
  scan[lid] = value;
  workgroupBarrier();
  for (var offset = 1u; offset < WORKGROUP_SIZE; offset <<= 1u) {
    var add = 0u;
    if (lid >= offset) {
      add = scan[lid - offset];
    }
    workgroupBarrier();
    scan[lid] += add;
    workgroupBarrier();
  }
  let inclusive = scan[lid];
  workgroupBarrier(); // scan is reused by the next call
  return inclusive - value;
}

// One radix pass: fixes the 8 bits of the threshold at `shift`. Every thread calls it.
fn select_byte(lid: u32, first: u32, last: u32, shift: u32) {
  atomicStore(&hist[lid], 0u); // 256 bins, one per thread
  workgroupBarrier();
  let mask = select(~((1u << min(shift + 8u, 31u)) - 1u), 0u, shift >= 24u);
  let known = workgroupUniformLoad(&prefix);
  for (var i = first; i < last; i++) {
    let key = keys[i];
    if ((key & mask) == known) {
      atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
    }
  }
  workgroupBarrier();
  if (lid == 0u && remaining > 0u) {
    var above = 0u;
    var bin = 0u;
    for (var b = 255i; b >= 0i; b--) {
      let count = atomicLoad(&hist[u32(b)]);
      if (above + count >= remaining) {
        bin = u32(b);
        break;
      }
      above += count;
    }
    prefix |= bin << shift;
    remaining -= above;
  }
  workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_id) local: vec3<u32>, @builtin(workgroup_id) group: vec3<u32>) {
  let lid = local.x;
  let chunk = group.x;
  let out_first = chunk_offsets[chunk];
  let k = chunk_offsets[chunk + 1u] - out_first;
  let per_thread = CHUNK_SIZE / WORKGROUP_SIZE;
  let chunk_end = min(params.n, (chunk + 1u) * CHUNK_SIZE);
  let first = min(chunk_end, chunk * CHUNK_SIZE + lid * per_thread);
  let last = min(chunk_end, first + per_thread);
  if (lid == 0u) {
    prefix = 0u;
    remaining = k;
  }
  workgroupBarrier();
  for (var shift = 24i; shift >= 0i; shift -= 8i) {
    select_byte(lid, first, last, u32(shift));
  }
  // The k-th largest key, and how many keys equal to it are kept; k = 0 keeps nothing.
  let ties_kept = workgroupUniformLoad(&remaining);
  var threshold = prefix;
  if (ties_kept == 0u) {
    threshold = 0xffffffffu;
  }
  var above = 0u;
  var ties = 0u;
  for (var i = first; i < last; i++) {
    above += select(0u, 1u, keys[i] > threshold);
    ties += select(0u, 1u, keys[i] == threshold);
  }
  let ties_before = exclusive_scan(lid, ties);
  let my_ties = min(ties, ties_kept - min(ties_kept, ties_before));
  var slot = out_first + exclusive_scan(lid, above + my_ties);
  var tie = ties_before;
  for (var i = first; i < last; i++) {
    let key = keys[i];
    var keep = key > threshold;
    if (key == threshold) {
      keep = tie < ties_kept;
      tie++;
    }
    if (keep) {
      out_index[slot] = i;
      out_value[slot] = acc[i];
      slot++;
    }
  }
}
