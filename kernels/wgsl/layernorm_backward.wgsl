// Backward of LayerNorm over rows of C (inp (N, C), mean and rstd (N) saved by the forward):
//   norm = (inp - mean) * rstd,  dnorm = dout * weight
//   dinp    += rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm))   ACCUMULATES
//   dweight  = sum over rows of dout * norm                                   OVERWRITES
//   dbias    = sum over rows of dout                                          OVERWRITES
// dinp accumulates because it is the residual stream's gradient, which other branches also
// feed. The column sums are deterministic, without atomics, in two passes:
//   this kernel: threads [0, N) each own a row of dinp; threads [N, N + chunks * C/4) each
//     sum one vec4 column over ROWS_PER_CHUNK consecutive rows, in row order, into
//     partials (chunks, 2, C/4): [chunk][0] for dweight, [chunk][1] for dbias;
//   layernorm_backward_reduce.wgsl: adds the chunks in chunk order into dweight and dbias.
// Two files rather than one with a stage switch: one shader would bind 9 storage buffers,
// and WebGPU only guarantees 8 per stage.
// Why chunks: a thread per column looping over all N rows does the same work, but its C/4
// threads fit in one workgroup, i.e. one SwiftShader core (N = 1024, C = 128: 2.0 ms of
// column work against 1.1 ms chunked, on 2 idle cores), and a GPU would idle too.
// No workgroup memory and no barriers: on SwiftShader a workgroup per row with a tree
// reduction was 3x (8 threads) to 14x (32 threads) slower than a thread per row.
// C must be a multiple of 4.
// CPU reference: kernels/reference/layernorm.ts.

struct Params {
  n: u32, // rows
  c4: u32, // vec4s per row (C / 4)
  chunks: u32, // ceil(n / ROWS_PER_CHUNK)
}

@group(0) @binding(0) var<storage, read_write> dinp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> rstd: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

override ROWS_PER_CHUNK: u32 = 64u;

fn hsum(v: vec4<f32>) -> f32 {
  return v.x + v.y + v.z + v.w;
}

fn row_dinp(row: u32) {
  let c4 = params.c4;
  let base = row * c4;
  let m = mean[row];
  let s = rstd[row];
  var dnorm_sum = vec4(0.0);
  var dnorm_norm_sum = vec4(0.0);
  for (var j = 0u; j < c4; j++) {
    let norm = (inp[base + j] - m) * s;
    let dnorm = dout[base + j] * weight[j];
    dnorm_sum += dnorm;
    dnorm_norm_sum += dnorm * norm;
  }
  let width = f32(c4 * 4u);
  let dnorm_mean = hsum(dnorm_sum) / width;
  let dnorm_norm_mean = hsum(dnorm_norm_sum) / width;
  for (var j = 0u; j < c4; j++) {
    let norm = (inp[base + j] - m) * s;
    let dnorm = dout[base + j] * weight[j];
    dinp[base + j] += s * (dnorm - dnorm_mean - norm * dnorm_norm_mean);
  }
}

fn column_partial(chunk: u32, j: u32) {
  let c4 = params.c4;
  let first = chunk * ROWS_PER_CHUNK;
  let last = min(first + ROWS_PER_CHUNK, params.n);
  var dw = vec4(0.0);
  var db = vec4(0.0);
  for (var row = first; row < last; row++) {
    let g = dout[row * c4 + j];
    dw += (inp[row * c4 + j] - mean[row]) * rstd[row] * g;
    db += g;
  }
  partials[(chunk * 2u) * c4 + j] = dw;
  partials[(chunk * 2u + 1u) * c4 + j] = db;
}

// The entry point is grid_common.wgsl's (prepended): the row threads, then the column ones.
fn thread_count() -> u32 {
  return params.n + params.chunks * params.c4;
}

fn run_thread(i: u32) {
  if (i < params.n) {
    row_dinp(i);
    return;
  }
  let p = i - params.n;
  column_partial(p / params.c4, p % params.c4);
}
