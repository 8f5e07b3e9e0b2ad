// Device acquisition shared by the browser worker and Node: the caller passes the `GPU`
// object (navigator.gpu, or Dawn's through kernels/node/node-gpu.ts), we ask for the
// largest limits the adapter allows and make device loss and validation errors loud.
import { GpuError } from './errors.ts';

export interface AcquiredDevice {
  readonly device: GPUDevice;
  readonly adapterInfo: AdapterSummary;
  /** Throws the first uncaptured GPU error seen since the last call (and forgets it). */
  throwIfFailed(): void;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** True when the adapter is a CPU rasterizer such as SwiftShader: autotune and tests use this. */
  isSoftware: boolean;
}

/** Limits we raise to the adapter's maximum: bigger models need bigger buffers. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

export function summarizeAdapter(info: GPUAdapterInfo): AdapterSummary {
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const description = info.description ?? '';
  const text = `${vendor} ${architecture} ${description}`.toLowerCase();
  return {
    vendor,
    architecture,
    description,
    isSoftware: /swiftshader|llvmpipe|lavapipe|software|warp/.test(text),
  };
}

export async function acquireDevice(gpu: GPU | undefined, label = 'potluck'): Promise<AcquiredDevice> {
  if (!gpu) {
    throw new GpuError(
      'ERR_WEBGPU_UNAVAILABLE',
      'this browser has no WebGPU; use a recent Chrome, Edge or Firefox Nightly, or enable WebGPU',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuError('ERR_NO_ADAPTER', 'WebGPU is present but offered no adapter');

  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ label, requiredLimits });

  let firstError: GpuError | null = null;
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    console.error(`[${label}] uncaptured WebGPU error: ${error.message}`);
    firstError ??= new GpuError('ERR_GPU_VALIDATION', error.message);
  });
  device.lost.then((info) => {
    // destroy() on purpose is quiet; anything else is a lost GPU and everyone must know.
    if (info.reason === 'destroyed') return;
    console.error(`[${label}] WebGPU device lost: ${info.message}`);
    firstError ??= new GpuError('ERR_DEVICE_LOST', info.message);
  });

  return {
    device,
    adapterInfo: summarizeAdapter(adapter.info),
    throwIfFailed() {
      const error = firstError;
      firstError = null;
      if (error) throw error;
    },
  };
}
