// A relay's sessions follow the lease: calls go to the leader's desk (here) or over the bus
// (elsewhere); when the lease moves, a member of the old leader's open round is told the round
// was aborted, and every session is announced to the new leader as it last stood. The desk
// moves a volunteer that reconnected through another relay and forgets a dead relay's ones.
import { describe, expect, it } from 'vitest';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import type { SessionCall } from '../../../relay/cluster/bus-messages.ts';
import { LeaderDesk } from '../../../relay/cluster/leader-desk.ts';
import { RoutedCoordinator } from '../../../relay/cluster/routed-coordinator.ts';
import type { PeerLink } from '../../../relay/rounds/coordinator.ts';
import type { SwarmCoordinator } from '../../../relay/swarm/swarm-coordinator.ts';

/** Records every call the way the run's coordinator receives them. */
function recordingCoordinator(): SwarmCoordinator & { calls: string[]; links: Map<string, PeerLink> } {
  const calls: string[] = [];
  const links = new Map<string, PeerLink>();
  return {
    kind: 'rounds',
    calls,
    links,
    join: (link) => {
      links.set(link.id, link);
      calls.push(`join ${link.id}`);
    },
    capabilities: (id) => calls.push(`capabilities ${id}`),
    ready: (id, round) => calls.push(`ready ${id} ${round}`),
    manifest: (id) => calls.push(`manifest ${id}`),
    modelHash: (id) => calls.push(`model-hash ${id}`),
    stageNorm: (id) => calls.push(`stage-norm ${id}`),
    stageReport: (id) => calls.push(`stage-report ${id}`),
    leave: (id) => calls.push(`leave ${id}`),
  };
}

const SPEED = { tokensPerSec: 100, uplinkBytesPerSec: 1e6 };
const assignment = (round: number) => ({ type: 'assignment', round }) as unknown as RelayMessage;

describe('routed coordinator and leader desk', () => {
  it('carries sessions over to a new leader, aborting the old leader’s round', () => {
    const toLeader: { relay: string; call: SessionCall }[] = [];
    const closed: string[] = [];
    const routed = new RoutedCoordinator({
      kind: 'rounds',
      self: 'r1',
      toLeader: (relay, call) => toLeader.push({ relay, call }),
      closeSession: (peer) => closed.push(peer),
    });
    const sent = new Map<string, RelayMessage[]>();
    const link = (id: string): PeerLink => {
      sent.set(id, []);
      return { id, name: id, send: (m) => sent.get(id)?.push(m) };
    };
    // Before any leader is known, calls are only remembered.
    routed.join(link('busy'));
    routed.join(link('idle'));
    expect(toLeader).toEqual([]);
    routed.setLeader({ kind: 'remote', relay: 'r2', epoch: 1 });
    expect(toLeader.map((t) => `${t.relay} ${t.call.type} ${t.call.peer}`)).toEqual([
      'r2 join busy',
      'r2 join idle',
    ]);
    routed.capabilities('busy', SPEED);
    routed.ready('busy', 0, 'h0');
    routed.capabilities('idle', SPEED);
    routed.ready('idle', 0, 'h0');
    routed.deliver('busy', assignment(1));
    expect(sent.get('busy')).toEqual([assignment(1)]);

    // The lease moves here: 'busy' hears its round is over; 'idle' is re-announced ready.
    const coordinator = recordingCoordinator();
    const desk = new LeaderDesk(coordinator, {
      self: 'r1',
      toRemote: () => {},
      replaced: (relay, peer) => (relay === 'r1' ? routed.replaced(peer) : undefined),
      reannounce: (relay, peer) => (relay === 'r1' ? routed.reannounce(peer) : undefined),
    });
    routed.setLeader({ kind: 'here', epoch: 2, desk });
    expect(sent.get('busy')?.at(-1)).toMatchObject({ type: 'round-aborted', round: 1 });
    expect(coordinator.calls).toEqual([
      'join busy',
      'capabilities busy',
      'join idle',
      'capabilities idle',
      'ready idle 0',
    ]);
    // The coordinator's messages reach the session through the tracking link.
    coordinator.links.get('idle')?.send(assignment(5));
    expect(sent.get('idle')?.at(-1)).toEqual(assignment(5));

    // 'idle' reconnects through relay r3: the desk moves it and closes the session here.
    desk.call('r3', { type: 'join', peer: 'idle', name: 'idle' });
    expect(closed).toEqual(['idle']);
    expect(coordinator.calls.slice(-2)).toEqual(['leave idle', 'join idle']);
    // A late call from the old session is not the volunteer's any more.
    desk.call('r1', { type: 'ready', peer: 'idle', round: 9, modelHash: null });
    expect(coordinator.calls.at(-1)).toBe('join idle');
    // r3 dies: its volunteers are let go of.
    desk.relayGone('r3');
    expect(coordinator.calls.at(-1)).toBe('leave idle');
    expect(desk.census()).toEqual(new Map([['r1', 1]]));

    // r1 is taken for gone (it stalled past its heartbeat) while its volunteer is still there:
    // its next call makes r1 announce it again, as it stood.
    desk.relayGone('r1');
    expect(coordinator.calls.at(-1)).toBe('leave busy');
    routed.ready('busy', 0, 'h0');
    expect(coordinator.calls.slice(-3)).toEqual(['join busy', 'capabilities busy', 'ready busy 0']);
    // A pipeline peer's gradient norm for the cross-stage clip reaches the coordinator the same way.
    routed.stageNorm('busy', { step: 0, attempt: 1, stage: 0, sumOfSquares: 2 });
    expect(coordinator.calls.at(-1)).toBe('stage-norm busy');
  });
});
