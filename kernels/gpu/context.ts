// The one place kernels touch WebGPU: labelled buffers, a pipeline cache keyed by shader and
// override constants, and "dispatch lists" that are built once per model shape and replayed
// every step inside a single compute pass (tfjs-backend-webgpu's shader keys, llm.c's habit
// of building everything up front).
import type { AcquiredDevice, AdapterSummary } from './device.ts';
import { GpuError } from './errors.ts';
import { BufferUsage, MapMode } from './flags.ts';

/** A byte range of a GPU buffer, as bound to a shader. Offsets obey minStorageBufferOffsetAlignment. */
export interface BufferSlice {
  readonly buffer: GPUBuffer;
  /** In bytes. */
  readonly offset: number;
  /** In bytes. */
  readonly size: number;
}

/** What a kernel binds: a whole buffer or a 256-byte-aligned range of one. */
export type Tensor = GPUBuffer | BufferSlice;

/** One recorded compute dispatch: everything needed to replay it. */
export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

export interface ShaderSpec {
  /** Kernel name (the .wgsl file's stem); part of the cache key and every label. */
  readonly name: string;
  readonly source: string;
  /** WGSL `override` values; part of the cache key. */
  readonly constants?: Readonly<Record<string, number>>;
}

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export interface GpuContextOptions {
  /**
   * The runtime waits for the GPU by polling on this thread (Dawn in Node does, with
   * setImmediate). On a CPU adapter the polling takes a core the kernels need, so waits
   * given an expected duration sleep through most of it first (`waitFor`).
   */
  readonly pollingWaits?: boolean;
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  /** Byte alignment of storage binding offsets: tensors inside one buffer start on it. */
  readonly storageAlignment: number;
  private readonly acquired: AcquiredDevice;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private destroyed = false;

  private readonly pollingWaits: boolean;

  constructor(acquired: AcquiredDevice, options: GpuContextOptions = {}) {
    this.pollingWaits = options.pollingWaits ?? false;
    this.acquired = acquired;
    this.device = acquired.device;
    this.adapter = acquired.adapterInfo;
    this.storageAlignment = this.device.limits.minStorageBufferOffsetAlignment;
  }

  /** A zero-filled storage buffer of `bytes` bytes (rounded up to 4 bytes). */
  createStorage(label: string, bytes: number): GPUBuffer {
    this.assertAlive();
    return this.device.createBuffer({ label, size: Math.max(4, align(bytes, 4)), usage: STORAGE_USAGE });
  }

  /** A storage buffer holding `data`. */
  createStorageFrom(label: string, data: Float32Array | Uint32Array | Int32Array): GPUBuffer {
    const buffer = this.createStorage(label, data.byteLength);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** A uniform buffer for a kernel's fixed parameters (shapes, flags), written once. */
  createUniform(label: string, words: ArrayLike<number>, kind: 'u32' | 'f32' = 'u32'): GPUBuffer {
    this.assertAlive();
    const data = kind === 'u32' ? Uint32Array.from(words) : Float32Array.from(words);
    const buffer = this.device.createBuffer({
      label,
      size: align(Math.max(16, data.byteLength), 16),
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** The compute pipeline for a shader and its override constants, compiled once. */
  pipeline(spec: ShaderSpec): GPUComputePipeline {
    this.assertAlive();
    const constants = spec.constants ?? {};
    const key = `${spec.name}|${Object.entries(constants)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    let module = this.modules.get(spec.name);
    if (!module) {
      module = this.device.createShaderModule({ label: spec.name, code: spec.source });
      this.modules.set(spec.name, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { ...constants } },
    });
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Records a dispatch: binds `resources` to @group(0) @binding(i) in order. */
  dispatch(
    label: string,
    spec: ShaderSpec,
    resources: ReadonlyArray<GPUBuffer | BufferSlice>,
    workgroups: readonly [number, number?, number?],
  ): Dispatch {
    const pipeline = this.pipeline(spec);
    const [x, y = 1, z = 1] = workgroups;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new GpuError('ERR_SHAPE', `${label}: ${x}x${y}x${z} workgroups exceed ${limit} per dimension`);
    }
    const bindGroup = this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: resources.map((resource, binding) => ({
        binding,
        resource:
          'buffer' in resource
            ? { buffer: resource.buffer, offset: resource.offset, size: resource.size }
            : { buffer: resource },
      })),
    });
    return { label, pipeline, bindGroup, workgroups: [x, y, z] };
  }

  /**
   * Encodes `dispatches` in order into one compute pass and submits it. Buffers in `clear`
   * are zeroed first, in the same submission (for gradients that kernels accumulate into).
   */
  run(dispatches: readonly Dispatch[], label = 'step', clear: readonly GPUBuffer[] = []): void {
    this.assertAlive();
    const encoder = this.device.createCommandEncoder({ label });
    for (const buffer of clear) encoder.clearBuffer(buffer);
    const pass = encoder.beginComputePass({ label });
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, byteOffset = 0): void {
    this.assertAlive();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies `bytes` bytes from `buffer` back to the CPU. Waits for all submitted work. */
  async readBytes(buffer: GPUBuffer, byteOffset = 0, bytes = buffer.size - byteOffset): Promise<ArrayBuffer> {
    this.assertAlive();
    const staging = this.device.createBuffer({
      label: `${buffer.label}:readback`,
      size: align(bytes, 4),
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, align(bytes, 4));
    this.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(MapMode.READ);
      this.acquired.throwIfFailed();
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  async readFloats(buffer: GPUBuffer, offsetFloats = 0, count?: number): Promise<Float32Array> {
    const bytes = count === undefined ? buffer.size - offsetFloats * 4 : count * 4;
    return new Float32Array(await this.readBytes(buffer, offsetFloats * 4, bytes));
  }

  /**
   * Sleeps through `fraction` of `expectedMs` when waits poll (see GpuContextOptions), so the
   * wait that follows polls only briefly. Returns at once elsewhere.
   */
  async idleFor(expectedMs: number, fraction = 0.75): Promise<void> {
    if (!this.pollingWaits || !(expectedMs > 1)) return;
    await new Promise<void>((resolve) => setTimeout(resolve, expectedMs * fraction));
  }

  /** Waits for submitted work and throws any uncaptured GPU error it raised. */
  async sync(): Promise<void> {
    this.assertAlive();
    await this.device.queue.onSubmittedWorkDone();
    this.acquired.throwIfFailed();
  }

  /** Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }

  private assertAlive(): void {
    if (this.destroyed) throw new GpuError('ERR_DEVICE_LOST', 'GpuContext used after destroy()');
  }
}

export function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}
