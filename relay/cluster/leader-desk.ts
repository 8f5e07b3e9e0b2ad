// The leading relay's side of the cluster: every session's calls reach the run's one coordinator
// here, from this relay's own sessions and, through the bus, from the other relays'. It knows
// where each volunteer is connected, so the coordinator's messages go back through the right
// relay, a volunteer that reconnects through another relay is moved (its old session is told
// to step aside), and the volunteers of a relay that died are let go of at once.

import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { unreachable } from '../../protocol/unreachable.ts';
import type { PeerLink } from '../rounds/coordinator.ts';
import type { SwarmCoordinator } from '../swarm/swarm-coordinator.ts';
import type { SessionCall } from './bus-messages.ts';

/** What the desk needs to reach volunteers on each relay. */
export interface DeskRoutes {
  readonly self: string;
  /** To a volunteer on another relay (the bus). */
  toRemote(relay: string, peer: string, message: RelayMessage): void;
  /** Tell `relay` (maybe this one) that `peer` now has a session elsewhere. */
  replaced(relay: string, peer: string): void;
  /** Ask `relay` to announce `peer` again (join, speed, ready). */
  reannounce(relay: string, peer: string): void;
}

export class LeaderDesk {
  /** Each volunteer's relay. */
  private readonly whereabouts = new Map<string, string>();

  constructor(
    readonly coordinator: SwarmCoordinator,
    private readonly routes: DeskRoutes,
  ) {}

  /** A session's call from `relay`; `local` is the session's link when the relay is this one. */
  call(relay: string, call: SessionCall, local?: PeerLink): void {
    const { coordinator } = this;
    if (call.type === 'join') {
      const before = this.whereabouts.get(call.peer);
      if (before !== undefined) {
        coordinator.leave(call.peer);
        if (before !== relay) this.routes.replaced(before, call.peer);
      }
      this.whereabouts.set(call.peer, relay);
      coordinator.join(local ?? this.remoteLink(relay, call.peer, call.name));
      return;
    }
    // A late call from a session that has moved on is not this volunteer's. One the desk does
    // not know at all was let go of with its relay (a relay that stalled past its heartbeat,
    // not dead after all): its relay announces it again.
    const where = this.whereabouts.get(call.peer);
    if (where === undefined && call.type !== 'leave') this.routes.reannounce(relay, call.peer);
    if (where !== relay) return;
    switch (call.type) {
      case 'capabilities':
        coordinator.capabilities(call.peer, call.speed);
        return;
      case 'ready':
        coordinator.ready(call.peer, call.round, call.modelHash);
        return;
      case 'manifest':
        coordinator.manifest(call.peer, call.input);
        return;
      case 'model-hash':
        coordinator.modelHash(call.peer, call.round, call.hash);
        return;
      case 'stage-norm':
        coordinator.stageNorm(call.peer, call.input);
        return;
      case 'stage-report':
        coordinator.stageReport(call.peer, call.report);
        return;
      case 'leave':
        this.whereabouts.delete(call.peer);
        coordinator.leave(call.peer);
        return;
      default:
        unreachable(call, 'session call');
    }
  }

  /** A relay stopped: its volunteers are gone until they come back through another. */
  relayGone(relay: string): void {
    for (const [peer, where] of this.whereabouts) {
      if (where !== relay) continue;
      this.whereabouts.delete(peer);
      this.coordinator.leave(peer);
    }
  }

  /** Volunteers connected through each relay. */
  census(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const relay of this.whereabouts.values()) counts.set(relay, (counts.get(relay) ?? 0) + 1);
    return counts;
  }

  private remoteLink(relay: string, peer: string, name: string): PeerLink {
    return { id: peer, name, send: (message) => this.routes.toRemote(relay, peer, message) };
  }
}
