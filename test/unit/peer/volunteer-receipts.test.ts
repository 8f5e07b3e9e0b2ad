// A receipt is the volunteer's proof of credit, so it is kept the moment it arrives: not after
// the round's work queued ahead of it (a long round on a slow GPU, a state download), and not
// dropped when the connection closes before that work ends. One that does not verify against
// the relay's key is refused and said so.
import { expect, it } from 'vitest';
import { entryHash } from '../../../protocol/ledger-entry.ts';
import { type Receipt, receiptMessage } from '../../../protocol/ledger-signatures.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import {
  assignment,
  blockingEngine,
  HASH,
  ME,
  scriptedRelay,
  scriptedVolunteer,
} from './volunteer-harness.ts';

async function receipt(signer: RelaySigner, round: number): Promise<Receipt> {
  const content = {
    height: round + 1,
    prevHash: '0'.repeat(64),
    kind: 'credit-provisional' as const,
    runId: 'run',
    round,
    peerKey: ME,
    tokens: 128,
    flops: '1000000',
    modelHash: HASH,
    reason: '',
    createdAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  };
  const entry = { ...content, hash: await entryHash(content) };
  return { entry, relayKey: signer.publicKey, signature: await signer.sign(receiptMessage(entry.hash)) };
}

const notice = (r: Receipt): RelayMessage => ({ type: 'receipt', receipt: r });

it('keeps a receipt that arrives while a round trains, without waiting for the round', async () => {
  const signer = await generateRelaySigner();
  const { engine, calls, finishTraining } = blockingEngine();
  const relay = scriptedRelay(signer.publicKey);
  const { volunteer, store, events } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  relay.deliver(assignment(1));
  await expect.poll(() => calls).toEqual(['train 1']);

  relay.deliver(notice(await receipt(signer, 0)));
  await expect.poll(async () => (await store.receipts()).map((r) => r.entry.round)).toEqual([0]);
  expect(calls).toEqual(['train 1']); // round 1 still trains
  expect(events.some((e) => e.type === 'receipt' && e.receipt.entry.round === 0)).toBe(true);
  finishTraining();
  volunteer.stop();
});

it('keeps a receipt that arrived just before the connection closed', async () => {
  const signer = await generateRelaySigner();
  const { engine, calls } = blockingEngine();
  const relay = scriptedRelay(signer.publicKey);
  const { volunteer, store } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  relay.deliver(assignment(1));
  await expect.poll(() => calls).toEqual(['train 1']);
  relay.deliver(notice(await receipt(signer, 0)));
  volunteer.stop(); // the connection drops with round 1 still training
  await volunteer.idle();
  expect((await store.receipts()).map((r) => r.entry.round)).toEqual([0]);
});

it('refuses a receipt another key signed, and says so', async () => {
  const signer = await generateRelaySigner();
  const stranger = await generateRelaySigner();
  const { engine } = blockingEngine();
  const relay = scriptedRelay(signer.publicKey);
  const { volunteer, store, events } = scriptedVolunteer(engine, relay);
  await volunteer.start();
  relay.deliver(notice(await receipt(stranger, 0)));
  await expect
    .poll(() => events.map((e) => (e.type === 'status' ? e.text : '')))
    .toContain('the relay sent a receipt that does not verify; ignored');
  expect(await store.receipts()).toEqual([]);
  volunteer.stop();
});
