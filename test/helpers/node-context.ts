// One shared GpuContext per Node test file: Dawn device creation is slow on SwiftShader.
import type { GpuContext } from '../../kernels/gpu/context.ts';
import { openNodeContext } from '../../kernels/node/open-context.ts';

let context: Promise<GpuContext> | null = null;

export function nodeContext(): Promise<GpuContext> {
  context ??= openNodeContext('test');
  return context;
}
