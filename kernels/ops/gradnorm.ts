// Global gradient norm builder: two dispatches leave [norm, sum of squares] in `result`, a
// small buffer made here that AdamW reads for clipping (see global_norm.wgsl).

import type { Dispatch, GpuContext, Tensor } from '../gpu/context.ts';
import { GpuError } from '../gpu/errors.ts';
import { requireVec4 } from '../gpu/grid.ts';
import source from '../wgsl/global_norm.wgsl?raw';

export interface GlobalNormOptions {
  /** Threads per workgroup, a power of two. Default: see `defaultTunables`. */
  readonly workgroupSize?: number;
  /** vec4s each thread of the first dispatch adds up. */
  readonly perThread?: number;
  readonly label?: string;
}

/**
 * SwiftShader runs a workgroup's barriers as coroutine switches, so its tree must be short:
 * 16 threads x 256 vec4s took 5 ms for 1M floats where 256 x 16 took 27-38 ms (same chunk,
 * 64 workgroups). A GPU wants the wide workgroup. Both chunk 4096 vec4s per workgroup.
 */
export function defaultTunables(isSoftware: boolean): { workgroupSize: number; perThread: number } {
  return isSoftware ? { workgroupSize: 16, perThread: 256 } : { workgroupSize: 256, perThread: 16 };
}

export class GlobalNorm {
  /** (2) floats: [norm, sum of squares]; overwritten by every run of `dispatches`. */
  readonly result: GPUBuffer;
  readonly dispatches: Dispatch[];

  constructor(
    private readonly ctx: GpuContext,
    grads: Tensor,
    n: number,
    options: GlobalNormOptions = {},
  ) {
    const defaults = defaultTunables(ctx.adapter.isSoftware);
    const {
      workgroupSize = defaults.workgroupSize,
      perThread = defaults.perThread,
      label = 'gradnorm',
    } = options;
    requireVec4(label, n);
    if (!Number.isInteger(Math.log2(workgroupSize))) {
      throw new GpuError('ERR_SHAPE', `${label}: workgroupSize ${workgroupSize} is not a power of two`);
    }
    const n4 = n / 4;
    // One workgroup per chunk: a chunk per dimension x keeps the partial index simply wid.x.
    const groups = Math.ceil(n4 / (workgroupSize * perThread));
    const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups > limit) {
      throw new GpuError(
        'ERR_SHAPE',
        `${label}: ${groups} chunks exceed ${limit} workgroups; raise perThread`,
      );
    }
    this.result = ctx.createStorage(`${label}:result`, 2 * 4); // [norm, sum of squares]
    const partials = ctx.createStorage(`${label}:partials`, groups * 4); // (groups)
    const params = ctx.createUniform(`${label}:params`, [n4, groups]);
    const resources = [partials, this.result, grads, params];
    const spec = (final: boolean) => ({
      name: 'global_norm',
      source,
      constants: { WORKGROUP_SIZE: workgroupSize, PER_THREAD: perThread, FINAL: final ? 1 : 0 },
    });
    this.dispatches = [
      ctx.dispatch(`${label}:chunks`, spec(false), resources, [groups]),
      ctx.dispatch(`${label}:final`, spec(true), resources, [1]),
    ];
  }

  /** The norm from the last run (waits for submitted work); for logging. */
  async read(): Promise<number> {
    const [norm] = await this.ctx.readFloats(this.result, 0, 1);
    return norm as number;
  }
}
