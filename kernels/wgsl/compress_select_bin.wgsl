// After a histogram pass: the bin holding the remaining-th largest key under the prefix.
// Walks the 256 bins from the top, fixes 8 more bits of the threshold, and clears the
// histogram for the next pass. After the SHIFT 0 pass the prefix is the threshold key itself,
// and `remaining` is how many keys equal to it top-k keeps. One thread: 256 steps.

@group(0) @binding(0) var<storage, read_write> hist: array<u32, 256>;
@group(0) @binding(1) var<storage, read_write> state: array<u32, 4>;

override SHIFT: u32 = 24u;

@compute @workgroup_size(1)
fn main() {
  var remaining = state[STATE_REMAINING];
  var prefix = state[STATE_PREFIX];
  if (remaining > 0u) {
    var above = 0u;
    var bin = 0u;
    for (var b = 255i; b >= 0i; b--) {
      let count = hist[u32(b)];
      if (above + count >= remaining) {
        bin = u32(b);
        break;
      }
      above += count;
    }
    prefix |= bin << SHIFT;
    remaining -= above;
  }
  state[STATE_PREFIX] = prefix;
  state[STATE_REMAINING] = remaining;
  if (SHIFT == 0u) {
    if (remaining == 0u) {
      // k = 0: a threshold no key exceeds and no ties.
      state[STATE_THRESHOLD] = 0xffffffffu;
    } else {
      state[STATE_THRESHOLD] = prefix;
    }
    state[STATE_TIES] = remaining;
  }
  for (var b = 0u; b < 256u; b++) {
    hist[b] = 0u;
  }
}
