// The test's training worker (train-worker.ts), as the test page sees it through comlink.
// Messages are typed on both sides by this one declaration; buffers cross with transfer().
import type { AdapterSummary } from '../../kernels/gpu/device.ts';
import type { TrainConfig } from '../../kernels/train/config.ts';

export interface TrainRequest {
  readonly config: TrainConfig;
  /** Training tokens; transferred, not copied. */
  readonly train: Uint16Array;
  /** Validation tokens; transferred, not copied. */
  readonly val: Uint16Array;
}

export interface TrainProgress {
  readonly step: number;
  readonly loss: number;
  readonly tokensPerSec: number;
}

export interface TrainResult {
  /** Training loss of every step, in order. */
  readonly losses: number[];
  readonly valBefore: number;
  readonly valAfter: number;
  readonly paramCount: number;
  readonly adapter: AdapterSummary;
}

export interface TrainWorkerApi {
  /** Acquires the GPU in the worker; rejects with code ERR_WEBGPU_UNAVAILABLE when there is none. */
  adapter(): Promise<AdapterSummary>;
  /** Trains from scratch on `request`, reporting each step to `onProgress` (a comlink proxy). */
  train(request: TrainRequest, onProgress?: (progress: TrainProgress) => void): Promise<TrainResult>;
}
