// A submission that mixes compute passes with buffer clears and copies, in order. GpuContext.run
// clears only before its one pass; a pipeline stage also needs a copy between two passes (the
// gradient accumulation) and a clear after one (the gradients, after the optimizer step).
import { unreachable } from '../../protocol/unreachable.ts';
import type { Dispatch, GpuContext } from '../gpu/context.ts';

export type Command =
  | { readonly type: 'clear'; readonly buffer: GPUBuffer }
  | { readonly type: 'copy'; readonly from: GPUBuffer; readonly to: GPUBuffer; readonly bytes: number }
  | { readonly type: 'pass'; readonly dispatches: readonly Dispatch[] };

/** Encodes `commands` in order into one command buffer and submits it. */
export function submitCommands(ctx: GpuContext, label: string, commands: readonly Command[]): void {
  const encoder = ctx.device.createCommandEncoder({ label });
  for (const command of commands) {
    switch (command.type) {
      case 'clear':
        encoder.clearBuffer(command.buffer);
        break;
      case 'copy':
        encoder.copyBufferToBuffer(command.from, 0, command.to, 0, command.bytes);
        break;
      case 'pass': {
        const pass = encoder.beginComputePass({ label });
        for (const d of command.dispatches) {
          pass.setPipeline(d.pipeline);
          pass.setBindGroup(0, d.bindGroup);
          pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
        }
        pass.end();
        break;
      }
      default: {
        unreachable(command, 'command');
      }
    }
  }
  ctx.device.queue.submit([encoder.finish()]);
}
