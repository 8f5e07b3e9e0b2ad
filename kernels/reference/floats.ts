// The references take float32 or float64 storage: float32 to mirror the GPU, float64 so that
// finite-difference gradient checks are not drowned in rounding noise.
export type Floats = Float32Array | Float64Array;
