// The volunteer worker's interface as the page sees it through comlink: one declaration types
// both sides. The engines it hands out cross with engine-comlink.ts.
import type { ProxyMarked } from 'comlink';
import type { AdapterSummary } from '../../../kernels/gpu/device.ts';
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';

export interface VolunteerWorkerApi {
  /** Acquires the GPU in the worker; rejects with ERR_WEBGPU_UNAVAILABLE when there is none. */
  adapter(): Promise<AdapterSummary & { maxBufferBytes: number }>;
  /** Builds the model for the run (θ_0 until a state is imported); returns a comlink proxy. */
  createEngine(config: RunConfig, noiseStream: number): Promise<VolunteerEngine & ProxyMarked>;
  /** A pipeline run's stage engine (its stage is opened when the relay names it); a comlink proxy. */
  createStageEngine(config: RunConfig, noiseStream: number): Promise<StageVolunteerEngine & ProxyMarked>;
  /**
   * The identity's proof-of-work stamp for a run (web/src/peer/stamp-mint.ts): seconds of
   * hashing, here so the page stays responsive. `onProgress` (a comlink proxy) hears the
   * counters tried so far.
   */
  mintStamp(
    runId: string,
    publicKey: string,
    bits: number,
    onProgress: ((tried: number) => void) & ProxyMarked,
  ): Promise<string>;
}
