// The engines the page drives, built in the volunteer worker (web/src/worker/volunteer-worker.ts)
// and seen through engine-comlink.ts: a round's tokens move to the worker rather than being
// copied (the peer runtime does not read them again).
import type { Remote } from 'comlink';
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { noiseStreamOf } from '../../../protocol/noise-stream.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import { remoteEngine } from '../worker/engine-comlink.ts';
import type { VolunteerWorkerApi } from '../worker/volunteer-api.ts';

/** A DiLoCo run's round engine, its stochastic rounding seeded by this peer's key. */
export async function roundEngineIn(
  worker: Remote<VolunteerWorkerApi>,
  config: RunConfig,
  peerKey: string,
): Promise<VolunteerEngine> {
  return remoteEngine<VolunteerEngine>(
    await worker.createEngine(config, noiseStreamOf(config.seed, peerKey)),
    {
      train: (work) => [work.tokens.buffer],
    },
  );
}

/** A pipeline run's stage engine, its stochastic rounding seeded by this peer's key. */
export async function stageEngineIn(
  worker: Remote<VolunteerWorkerApi>,
  config: RunConfig,
  peerKey: string,
): Promise<StageVolunteerEngine> {
  return remoteEngine<StageVolunteerEngine>(
    await worker.createStageEngine(config, noiseStreamOf(config.seed, peerKey)),
  );
}
