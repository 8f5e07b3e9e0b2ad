// Round 0's starting state, the one set of weights the relay makes itself rather than commits:
// θ_0 of the run's seed, or the model the run's `origin` names (origin-state.ts). An origin is
// resolved once, when the run first opens: its state is kept in the run's own checkpoints as
// round -1 and its source and hash go into the ledger, signed (protocol/run-origin-record.ts).
// A relay that opens the run again takes both from there, so "the latest round of run A" means
// the round it was when this run began, whatever A did since, and an origin file that changed
// on disk changes nothing.
import { initParams } from '../../protocol/init-params.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { RoundState } from '../../protocol/round-state-file.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import type { RunOriginRecord } from '../../protocol/run-origin-record.ts';
import type { CheckpointArchive } from '../checkpoints/checkpoint-store.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { loadOriginState, type OriginSources } from './origin-state.ts';

export interface InitialState {
  /** modelHash of round 0's starting state: what a volunteer must hold before round 0. */
  readonly hash: string;
  /** The state, null only when it is no longer kept (the run has committed rounds since). */
  readonly state: RoundState | null;
  /** Where the run came from; null for θ_0 of the seed. */
  readonly origin: RunOriginRecord | null;
}

export async function initialState(options: {
  readonly config: RunConfig;
  readonly runId: string;
  readonly ledger: Pick<Ledger, 'origin' | 'recordOrigin'>;
  /** This run's own checkpoints: round -1 is kept here. */
  readonly checkpoints: CheckpointArchive;
  readonly sources: OriginSources;
}): Promise<InitialState> {
  const { config, runId, ledger, checkpoints } = options;
  if (!config.origin) {
    // θ_0 is a pure function of the seed: every peer can check its hash.
    const weights = initParams(config.model, config.seed);
    const momentum = new Float32Array(paramLayout(config.model).totalFloats);
    const hash = await modelHash(weights, momentum);
    if (!checkpoints.has(hash)) await checkpoints.save(-1, hash, { weights, momentum });
    return { hash, state: { weights, momentum }, origin: null };
  }
  const recorded = await ledger.origin(runId);
  if (recorded)
    return { hash: recorded.modelHash, state: await checkpoints.load(recorded.modelHash), origin: recorded };
  const loaded = await loadOriginState(config.origin, config.model, options.sources);
  if (!checkpoints.has(loaded.hash)) await checkpoints.save(-1, loaded.hash, loaded.state);
  const origin = await ledger.recordOrigin({ runId, ...loaded.record });
  // Another relay of the cluster recorded the run's origin first: its record stands.
  const state = origin.modelHash === loaded.hash ? loaded.state : await checkpoints.load(origin.modelHash);
  return { hash: origin.modelHash, state, origin };
}
