// What a relay's /swarm sessions talk to when several relays serve one run: the coordinator of
// whichever relay holds the lease, directly when that is this relay (leader-desk.ts), through
// the bus otherwise. It remembers what each session last said (its speed, its ready) and whether
// it is in a round, so when the lease moves every session is carried over to the new leader
// without reconnecting: a round the old leader opened is over for its members (they are told it
// was aborted and ask for work again), the others are re-announced as they were.
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import type { StageNormInput, StageReportInput } from '../pipeline/pipeline-coordinator.ts';
import type { ManifestInput, PeerLink, PeerSpeed } from '../rounds/coordinator.ts';
import type { CoordinatorKind, SwarmCoordinator } from '../swarm/swarm-coordinator.ts';
import type { SessionCall } from './bus-messages.ts';
import type { LeaderDesk } from './leader-desk.ts';

interface SessionRecord {
  readonly link: PeerLink;
  speed: PeerSpeed | null;
  /** Its last ready not yet answered with work. */
  ready: { round: number; modelHash: string | null } | null;
  /** The round (or pipeline step) it was given and that has not ended for it yet. */
  open: number | null;
}

/** Where the run's coordinator is: this relay's desk, another relay, or nobody yet. */
export type LeaderTarget =
  | { readonly kind: 'here'; readonly epoch: number; readonly desk: LeaderDesk }
  | { readonly kind: 'remote'; readonly epoch: number; readonly relay: string }
  | { readonly kind: 'none' };

export interface RoutedCoordinatorOptions {
  readonly kind: CoordinatorKind;
  readonly self: string;
  /** To the leading relay, through the bus. */
  readonly toLeader: (relay: string, call: SessionCall) => void;
  /** Closes this relay's session of `peer` (it connected through another relay). */
  readonly closeSession: (peer: string) => void;
}

export class RoutedCoordinator implements SwarmCoordinator {
  readonly kind: CoordinatorKind;
  private readonly sessions = new Map<string, SessionRecord>();
  private target: LeaderTarget = { kind: 'none' };

  constructor(private readonly options: RoutedCoordinatorOptions) {
    this.kind = options.kind;
  }

  get leader(): LeaderTarget {
    return this.target;
  }

  /** Sessions on this relay. */
  get connectedPeers(): number {
    return this.sessions.size;
  }

  /** The lease moved (or was first seen): carry every session over to the new leader. */
  setLeader(target: LeaderTarget): void {
    const before = this.target;
    const same =
      before.kind === target.kind &&
      (target.kind === 'none' || ('epoch' in before && before.epoch === target.epoch));
    if (same) return;
    this.target = target;
    if (target.kind === 'none') return;
    for (const [peer, record] of this.sessions) {
      if (record.open !== null) {
        const reason = 'the relay that coordinated it stopped; another took over';
        record.link.send(
          this.kind === 'pipeline'
            ? { type: 'stage-abort', step: record.open, reason }
            : { type: 'round-aborted', round: record.open, reason },
        );
        record.open = null;
        // It asks for work again once it has let go of the round.
        record.ready = null;
      }
      this.reannounce(peer);
    }
  }

  /** The coordinator's message for a volunteer on this relay. */
  deliver(peer: string, message: RelayMessage): void {
    const record = this.sessions.get(peer);
    if (!record) return;
    switch (message.type) {
      case 'assignment':
        record.open = message.round;
        record.ready = null;
        break;
      case 'stage-assignment':
        record.open = message.step;
        record.ready = null;
        break;
      case 'commit':
      case 'round-aborted':
      case 'stage-commit':
      case 'stage-abort':
        record.open = null;
        break;
      default:
        break;
    }
    record.link.send(message);
  }

  /** The leader lost track of `peer`: announce it again as it stands. */
  reannounce(peer: string): void {
    const record = this.sessions.get(peer);
    if (!record) return;
    this.route({ type: 'join', peer, name: record.link.name });
    if (record.speed) this.route({ type: 'capabilities', peer, speed: record.speed });
    if (record.ready) this.route({ type: 'ready', peer, ...record.ready });
  }

  /** The leader moved `peer` to another relay's session. */
  replaced(peer: string): void {
    if (!this.sessions.delete(peer)) return;
    this.options.closeSession(peer);
  }

  join(link: PeerLink): void {
    this.sessions.set(link.id, { link, speed: null, ready: null, open: null });
    this.route({ type: 'join', peer: link.id, name: link.name });
  }

  capabilities(id: string, speed: PeerSpeed): void {
    const record = this.sessions.get(id);
    if (record) record.speed = speed;
    this.route({ type: 'capabilities', peer: id, speed });
  }

  ready(id: string, round: number, modelHash: string | null): void {
    const record = this.sessions.get(id);
    if (record) record.ready = { round, modelHash };
    this.route({ type: 'ready', peer: id, round, modelHash });
  }

  manifest(id: string, input: ManifestInput): void {
    this.route({ type: 'manifest', peer: id, input });
  }

  modelHash(id: string, round: number, hash: string): void {
    this.route({ type: 'model-hash', peer: id, round, hash });
  }

  stageNorm(id: string, input: StageNormInput): void {
    this.route({ type: 'stage-norm', peer: id, input });
  }

  stageReport(id: string, report: StageReportInput): void {
    this.route({ type: 'stage-report', peer: id, report });
  }

  leave(id: string): void {
    if (!this.sessions.delete(id)) return;
    this.route({ type: 'leave', peer: id });
  }

  private route(call: SessionCall): void {
    const target = this.target;
    if (target.kind === 'here') {
      // This relay's own sessions reach the desk with a link that tracks their rounds here.
      const local: PeerLink | undefined =
        call.type === 'join'
          ? { id: call.peer, name: call.name, send: (m) => this.deliver(call.peer, m) }
          : undefined;
      target.desk.call(this.options.self, call, local);
    } else if (target.kind === 'remote') this.options.toLeader(target.relay, call);
    // No leader yet: the call is remembered above and replayed once one is seen.
  }
}
