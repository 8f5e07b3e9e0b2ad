// Second pass of layernorm_backward.wgsl: a thread per vec4 column adds the per-chunk partial
// sums in chunk order (deterministic), OVERWRITING dweight (C) and dbias (C).
// partials is (chunks, 2, C/4) vec4s: [chunk][0] for dweight, [chunk][1] for dbias.

struct Params {
  c4: u32, // vec4s per row (C / 4)
  chunks: u32,
}

@group(0) @binding(0) var<storage, read_write> dweight: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dbias: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> partials: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

// The entry point is grid_common.wgsl's (prepended): a thread per vec4 column.
fn thread_count() -> u32 {
  return params.c4;
}

fn run_thread(j: u32) {
  let c4 = params.c4;
  var dw = vec4(0.0);
  var db = vec4(0.0);
  for (var chunk = 0u; chunk < params.chunks; chunk++) {
    dw += partials[(chunk * 2u) * c4 + j];
    db += partials[(chunk * 2u + 1u) * c4 + j];
  }
  dweight[j] = dw;
  dbias[j] = db;
}
