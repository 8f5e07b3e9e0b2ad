// GELU builders (tanh approximation). Both outputs are overwritten; n must divide by 4.

import { vec4Builder, withVec4Entry } from '../gpu/grid.ts';
import backwardKernel from '../wgsl/gelu_backward.wgsl?raw';
import common from '../wgsl/gelu_common.wgsl?raw';
import forwardKernel from '../wgsl/gelu_forward.wgsl?raw';

const WORKGROUP_SIZE = 256;

// Each kernel with gelu_common.wgsl (the constants and u) and vec4Dispatch's entry point
// prepended: WGSL has no includes.
const forward = { name: 'gelu_forward', source: withVec4Entry(`${common}\n${forwardKernel}`) };
const backward = { name: 'gelu_backward', source: withVec4Entry(`${common}\n${backwardKernel}`) };

/** out (n) = gelu(inp). Overwrites out. */
export const geluForward = vec4Builder(forward, 'forward', ['out', 'inp'], 'gelu', WORKGROUP_SIZE);

/** dinp (n) = gelu'(inp) * dout. Overwrites dinp. */
export const geluBackward = vec4Builder(
  backward,
  'backward',
  ['dinp', 'inp', 'dout'],
  'gelu',
  WORKGROUP_SIZE,
);
