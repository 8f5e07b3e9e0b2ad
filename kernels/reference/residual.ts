// CPU reference for the residual connection: out = a + b. Its backward is the identity on
// both inputs, so the model's backward simply adds dout into both gradients.

import type { Floats } from './floats.ts';

export function residualForward(out: Floats, a: Floats, b: Floats, n: number): void {
  for (let i = 0; i < n; i++) out[i] = (a[i] as number) + (b[i] as number);
}
