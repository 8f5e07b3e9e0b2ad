// A round the relay aborts while this volunteer trains it (its relay died, a change of leader)
// stops at the engine's next step: the volunteer sends nothing for it and asks for work once,
// at once, rather than when a round nobody will take is done. The round opened again under the
// same number is trained. The engine here blocks in train() until told to stop, as a long
// round on a slow GPU does; the relay's side is a script of messages.
import { expect, it } from 'vitest';
import { assignment, blockingEngine, HASH, scriptedRelay, scriptedVolunteer } from './volunteer-harness.ts';

it('stops training a round the relay aborted, sends nothing for it, asks for work once, and trains the round opened again', async () => {
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay();
  const { volunteer } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  expect(relay.sent).toEqual(['ready -1']);

  relay.deliver(assignment(0));
  await expect.poll(() => calls).toEqual(['train 0']);
  // The abort arrives while round 0 trains; without the interrupt it would wait behind it.
  relay.deliver({ type: 'round-aborted', round: 0, reason: 'the leading relay changed' });
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1']);
  expect(calls).toEqual(['train 0', 'abort', 'discard']);

  // The new leader opens round 0 again: this one is trained, and its frame goes out.
  relay.deliver(assignment(0));
  await expect.poll(() => calls).toContain('train 0');
  await expect.poll(() => calls.filter((c) => c === 'train 0').length).toBe(2);
  finishTraining();
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1', 'frame 0', 'manifest 0']);
  expect(calls).toEqual(['train 0', 'abort', 'discard', 'train 0', 'contribute']);
  volunteer.stop();
});

it('stops uploading the frame of a round the relay aborted, and sends no manifest for it', async () => {
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay();
  const { volunteer } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  relay.uploads.hang = true; // the relay it uploads through answers 503 until the leader is back
  relay.deliver(assignment(1));
  await expect.poll(() => calls).toEqual(['train 1']);
  finishTraining();
  await expect.poll(() => calls).toEqual(['train 1', 'contribute']);
  relay.deliver({ type: 'round-aborted', round: 1, reason: 'the leading relay changed' });
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready -1']);
  expect(calls).toEqual(['train 1', 'contribute', 'discard']);
  volunteer.stop();
});

it('stops a frame upload when the round commits without it (it was late), and says it was not counted', async () => {
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay();
  const { volunteer, events } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  relay.uploads.hang = true; // a slow upload: the round is decided before it lands
  relay.deliver(assignment(1));
  await expect.poll(() => calls).toEqual(['train 1']);
  finishTraining();
  await expect.poll(() => calls).toEqual(['train 1', 'contribute']);
  // The relay committed round 1 without this peer's frame: it is told to take the committed state.
  relay.deliver({ type: 'resync', round: 1, modelHash: HASH });
  await expect.poll(() => relay.sent).toEqual(['ready -1', 'ready 1']);
  expect(relay.sent).not.toContain('manifest 1');
  expect(events.map((e) => (e.type === 'status' ? e.text : ''))).toContain(
    'not counted: round 1 was decided before this frame arrived (this GPU was slower than the round allowed)',
  );
  volunteer.stop();
});
