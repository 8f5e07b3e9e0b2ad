// What a swarm session (session.ts) asks of its run's coordinator: the DiLoCo rounds
// (relay/rounds/coordinator.ts) or the steps of a pipeline-parallel run
// (relay/pipeline/pipeline-coordinator.ts). Each kind of run has its own credit-earning
// messages; `kind` says which, and the session refuses the other kind's before they get here.
import type { StageNormInput, StageReportInput } from '../pipeline/pipeline-coordinator.ts';
import type { ManifestInput, PeerLink, PeerSpeed } from '../rounds/coordinator.ts';

export type CoordinatorKind = 'rounds' | 'pipeline';

export interface SwarmCoordinator {
  readonly kind: CoordinatorKind;
  join(link: PeerLink): void;
  capabilities(id: string, report: PeerSpeed): void;
  ready(id: string, round: number, modelHash: string | null): void;
  /** Rounds only. */
  manifest(id: string, input: ManifestInput): void;
  /** Rounds only. */
  modelHash(id: string, round: number, hash: string): void;
  /** Pipeline only. */
  stageNorm(id: string, input: StageNormInput): void;
  /** Pipeline only. */
  stageReport(id: string, report: StageReportInput): void;
  leave(id: string): void;
}
