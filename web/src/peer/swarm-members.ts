// Who the swarm document shows: the volunteers the relay seats with this one. The relay names
// them in its own messages on /swarm (the authenticated connection, not the open Yjs room): a
// round's `assignment.group`, a pipeline step's `stage-assignment.stages`. The latest list
// stands until the next one, so between rounds the table still shows the last round's group.
// Keys the relay did not name never reach the roster (web/src/peer/swarm-doc-roster.ts).
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { unreachable } from '../../../protocol/unreachable.ts';

/** The keys `message` seats together, or null when it says nothing about who is in the swarm. */
export function membersIn(message: RelayMessage): string[] | null {
  switch (message.type) {
    case 'assignment':
      return message.group.map((member) => member.peer);
    case 'stage-assignment':
      return [...new Set(message.stages.flat())];
    case 'challenge':
    case 'welcome':
    case 'wait':
    case 'decision':
    case 'commit':
    case 'resync':
    case 'round-aborted':
    case 'receipt':
    case 'check':
    case 'error':
    case 'stage-norms':
    case 'stage-commit':
    case 'stage-abort':
    case 'relays':
      return null;
    default:
      return unreachable(message, 'relay message');
  }
}

/** Hands every member list `client` receives to `swarm`. Returns the unsubscribe function. */
export function followMembers(
  client: { on(listener: (message: RelayMessage) => void): () => void },
  swarm: { setMembers(keys: Iterable<string>): void },
): () => void {
  return client.on((message) => {
    const members = membersIn(message);
    if (members) swarm.setMembers(members);
  });
}
