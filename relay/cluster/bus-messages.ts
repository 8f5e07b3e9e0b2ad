// What relays of one run say to each other through PostgreSQL (cluster-bus.ts). Relays of a
// cluster are one operator's machines sharing one database and one relay key, so these are
// trusted the way the database is; still, a message that does not parse is dropped, never
// thrown (the bus logs it).

import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import type { StageNormInput, StageReportInput } from '../pipeline/pipeline-coordinator.ts';
import type { ManifestInput, PeerSpeed } from '../rounds/coordinator.ts';

/** A session's call on the run's coordinator, from the relay that holds the session to the leader. */
export type SessionCall =
  | { readonly type: 'join'; readonly peer: string; readonly name: string }
  | { readonly type: 'capabilities'; readonly peer: string; readonly speed: PeerSpeed }
  | {
      readonly type: 'ready';
      readonly peer: string;
      readonly round: number;
      readonly modelHash: string | null;
    }
  | { readonly type: 'manifest'; readonly peer: string; readonly input: ManifestInput }
  | { readonly type: 'model-hash'; readonly peer: string; readonly round: number; readonly hash: string }
  | { readonly type: 'stage-norm'; readonly peer: string; readonly input: StageNormInput }
  | { readonly type: 'stage-report'; readonly peer: string; readonly report: StageReportInput }
  | { readonly type: 'leave'; readonly peer: string };

export type BusMessage =
  | SessionCall
  /** Leader → the relay holding `peer`'s session: pass this on to the volunteer. */
  | { readonly type: 'to-peer'; readonly peer: string; readonly message: RelayMessage }
  /** Leader → a relay: `peer` connected to another relay; close this relay's session of it. */
  | { readonly type: 'replaced'; readonly peer: string }
  /** Leader → a relay: the leader does not know `peer` (it took that relay for gone): announce it again. */
  | { readonly type: 'reannounce'; readonly peer: string }
  /** A request for the leader's HTTP routes; the body travels as the envelope's bytes. */
  | {
      readonly type: 'http-request';
      readonly id: number;
      readonly method: string;
      readonly path: string;
      readonly headers: Readonly<Record<string, string>>;
    }
  | {
      readonly type: 'http-response';
      readonly id: number;
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
    }
  /** Broadcast: relay `relay` holds the run's lease at `epoch` (leadership.ts). */
  | { readonly type: 'leader'; readonly epoch: number; readonly relay: string }
  /** Broadcast: a y-webrtc publish on this relay's /signal, for the others' subscribers. */
  | { readonly type: 'signal'; readonly topic: string; readonly data: string };

export interface BusEnvelope {
  /** The sending relay's id. */
  readonly from: string;
  readonly message: BusMessage;
  /** A request's or response's body, when it has one. */
  readonly bytes: Uint8Array | null;
}
