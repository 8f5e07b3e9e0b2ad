// A headless volunteer's events become the swarm-document fields a tab publishes from the same
// events (web/src/volunteer/round-view.ts, pipeline-page.ts): issue 17's rows of Node volunteers.
import { describe, expect, it } from 'vitest';
import { roundSwarmUpdate, stageSwarmUpdate } from '../../../web/node/swarm-updates.ts';

describe('roundSwarmUpdate', () => {
  it("publishes a step's round, loss and speed as training", () => {
    const update = roundSwarmUpdate({
      type: 'step',
      round: 7,
      progress: { step: 3, steps: 10, loss: 4.5, tokensPerSec: 1234 },
    } as never);
    expect(update).toEqual({ round: 7, phase: 'training', loss: 4.5, tokensPerSec: 1234 });
  });

  it("publishes a round's phase and the traffic", () => {
    expect(roundSwarmUpdate({ type: 'round', round: 8, phase: 'summing', peers: 3 } as never)).toEqual({
      round: 8,
      phase: 'summing',
    });
    expect(
      roundSwarmUpdate({
        type: 'traffic',
        bytesSent: 10,
        bytesReceived: 20,
        frameBytes: 1,
        denseBytes: 2,
      } as never),
    ).toEqual({ bytesSent: 10, bytesReceived: 20 });
  });

  it('leaves out what the table does not show', () => {
    expect(roundSwarmUpdate({ type: 'status', text: 'hello' })).toBeNull();
  });
});

describe('stageSwarmUpdate', () => {
  it("names a pipeline step's phases as a round's", () => {
    expect(stageSwarmUpdate({ type: 'step', step: 4, phase: 'sync', peers: 2 } as never)).toEqual({
      round: 4,
      phase: 'exchanging',
    });
    expect(stageSwarmUpdate({ type: 'microbatch', loss: 3.25 } as never)).toEqual({ loss: 3.25 });
    expect(stageSwarmUpdate({ type: 'microbatch', loss: null } as never)).toBeNull();
  });
});
