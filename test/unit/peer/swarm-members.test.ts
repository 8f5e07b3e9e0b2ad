// Who the swarm table shows: the keys the relay names in its own /swarm messages (a round's
// group, a pipeline step's stages), handed to the swarm document as they arrive; other
// messages leave the list as it was.
import { expect, it } from 'vitest';
import { encodeBase64url } from '../../../protocol/base64url.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { followMembers, membersIn } from '../../../web/src/peer/swarm-members.ts';

const key = (n: number) => encodeBase64url(new Uint8Array(32).fill(n));
const hash = '0'.repeat(64);

const assignment: RelayMessage = {
  type: 'assignment',
  round: 4,
  configHash: hash,
  modelHash: hash,
  seed: 1,
  group: [
    { peer: key(1), name: 'ada', innerSteps: 2 },
    { peer: key(2), name: 'bob', innerSteps: 2 },
  ],
  shard: { start: 0, end: 10 },
  innerSteps: 2,
  learningRate: 0.001,
  deadline: 0,
};

const stageAssignment: RelayMessage = {
  type: 'stage-assignment',
  step: 1,
  attempt: 0,
  stage: 0,
  layers: { start: 0, end: 1 },
  stages: [[key(1), key(2)], [key(3)], [key(1)]],
  routes: [[0, 0, 0]],
  shard: { start: 0, end: 10 },
  stateFrom: null,
  stateTo: [],
  learningRate: 0.001,
  deadline: 0,
};

it("reads the members of a round's group and of a pipeline's stages, and nothing else", () => {
  expect(membersIn(assignment)).toEqual([key(1), key(2)]);
  expect(membersIn(stageAssignment)).toEqual([key(1), key(2), key(3)]);
  expect(membersIn({ type: 'commit', round: 4, modelHash: hash, head: null })).toBeNull();
  expect(membersIn({ type: 'wait', reason: 'benched', retryAt: null })).toBeNull();
});

it('hands each list the relay sends to the swarm document, until unsubscribed', () => {
  const listeners = new Set<(message: RelayMessage) => void>();
  const client = {
    on(listener: (message: RelayMessage) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const lists: string[][] = [];
  const off = followMembers(client, { setMembers: (keys) => lists.push([...keys]) });
  const send = (message: RelayMessage) => {
    for (const listener of listeners) listener(message);
  };
  send(assignment);
  send({ type: 'round-aborted', round: 4, reason: 'deadline' });
  send(stageAssignment);
  off();
  send(assignment);
  expect(lists).toEqual([
    [key(1), key(2)],
    [key(1), key(2), key(3)],
  ]);
});
