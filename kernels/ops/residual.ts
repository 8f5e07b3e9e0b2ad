// Residual connection builder: out = a + b, a thread per vec4.
import { vec4Builder, withVec4Entry } from '../gpu/grid.ts';
import source from '../wgsl/residual_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

const kernel = { name: 'residual_forward', source: withVec4Entry(source) };

/** out = a + b over `n` floats (n a multiple of 4). `out` is overwritten. */
export const residualForward = vec4Builder(kernel, 'forward', ['out', 'a', 'b'], 'residual', WORKGROUP_SIZE);
