// Receipts and heads as a volunteer or an auditor checks them, with no database: valid ones
// verify with the relay's key, and another key, a flipped byte, an edited entry or garbage
// all answer false without throwing.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, encodeBase64url } from '../../../protocol/base64url.ts';
import { verifyChainSegment } from '../../../protocol/ledger-chain.ts';
import { entryHash, GENESIS_HASH, type LedgerEntry } from '../../../protocol/ledger-entry.ts';
import {
  headMessage,
  type LedgerHead,
  type Receipt,
  receiptMessage,
  verifyHead,
  verifyReceipt,
} from '../../../protocol/ledger-signatures.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { modelHash, peerKey } from './fixtures.ts';

async function chain(length: number): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let prevHash = GENESIS_HASH;
  for (let height = 1; height <= length; height++) {
    const content = {
      height,
      prevHash,
      kind: height % 2 === 0 ? ('credit-provisional' as const) : ('credit-verified' as const),
      runId: 'run-a',
      round: Math.floor((height - 1) / 2),
      peerKey: peerKey(height % 3),
      tokens: 100 * height,
      flops: (744_000_000_000n * BigInt(height)).toString(),
      modelHash: modelHash(height),
      reason: '',
      createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, height)).toISOString(),
    };
    const entry = { ...content, hash: await entryHash(content) };
    entries.push(entry);
    prevHash = entry.hash;
  }
  return entries;
}

/** The same base64url text with one bit of its decoded bytes flipped. */
function flipBit(text: string, bit: number): string {
  const bytes = decodeBase64url(text) as Uint8Array;
  bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
  return encodeBase64url(bytes);
}

describe('ledger receipts and heads', () => {
  let relay: RelaySigner;
  let stranger: RelaySigner;
  let entries: LedgerEntry[];
  let receipt: Receipt;
  let head: LedgerHead;

  beforeAll(async () => {
    relay = await generateRelaySigner();
    stranger = await generateRelaySigner();
    entries = await chain(6);
    const entry = entries[2] as LedgerEntry;
    receipt = { entry, relayKey: relay.publicKey, signature: await relay.sign(receiptMessage(entry.hash)) };
    const last = entries[5] as LedgerEntry;
    const unsigned = {
      height: last.height,
      hash: last.hash,
      runId: last.runId,
      round: last.round,
      metadataDigest: 'c'.repeat(64),
    };
    head = { ...unsigned, signature: await relay.sign(headMessage(unsigned)) };
  });

  it('verifies with the relay key and with no other', async () => {
    expect(await verifyReceipt(receipt, relay.publicKey)).toBe(true);
    expect(await verifyHead(head, relay.publicKey)).toBe(true);
    expect(await verifyReceipt(receipt, stranger.publicKey)).toBe(false);
    expect(await verifyReceipt({ ...receipt, relayKey: stranger.publicKey }, stranger.publicKey)).toBe(false);
    expect(await verifyHead(head, stranger.publicKey)).toBe(false);
  });

  it('fails on any flipped signature bit, edited entry or edited head', async () => {
    for (let bit = 0; bit < 512; bit += 37) {
      expect(
        await verifyReceipt({ ...receipt, signature: flipBit(receipt.signature, bit) }, relay.publicKey),
      ).toBe(false);
      expect(await verifyHead({ ...head, signature: flipBit(head.signature, bit) }, relay.publicKey)).toBe(
        false,
      );
    }
    const edits: Partial<LedgerEntry>[] = [
      { tokens: 301 },
      { flops: '1' },
      { round: 9 },
      { peerKey: peerKey(7) },
    ];
    for (const edit of edits) {
      expect(await verifyReceipt({ ...receipt, entry: { ...receipt.entry, ...edit } }, relay.publicKey)).toBe(
        false,
      );
    }
    // Re-hashing the edited entry does not help: the relay signed the old hash.
    const forged = { ...receipt.entry, tokens: 1 };
    const rehashed = { ...forged, hash: await entryHash(forged) };
    expect(await verifyReceipt({ ...receipt, entry: rehashed }, relay.publicKey)).toBe(false);
    expect(await verifyHead({ ...head, round: head.round + 1 }, relay.publicKey)).toBe(false);
    expect(await verifyHead({ ...head, height: head.height + 1 }, relay.publicKey)).toBe(false);
    // A head signature is no receipt signature, even over the same hash.
    expect(await verifyReceipt({ ...receipt, signature: head.signature }, relay.publicKey)).toBe(false);
  });

  it('answers false for garbage, never throwing', async () => {
    const garbage: unknown[] = [
      null,
      undefined,
      42,
      'receipt',
      [],
      {},
      { ...receipt, signature: '!!!' },
      { ...receipt, signature: `${receipt.signature}A` },
      { ...receipt, signature: receipt.signature.slice(0, -4) },
      { ...receipt, relayKey: 'A'.repeat(43) },
      { ...receipt, entry: { ...receipt.entry, height: 1.5 } },
      { ...receipt, entry: { ...receipt.entry, runId: 'a|b' } },
      { ...receipt, entry: null },
    ];
    for (const input of garbage) {
      expect(await verifyReceipt(input, relay.publicKey)).toBe(false);
      expect(await verifyHead(input, relay.publicKey)).toBe(false);
    }
    // A well-formed key text whose bytes are no usable key: false, not an exception.
    expect(await verifyReceipt({ ...receipt, relayKey: `${'_'.repeat(42)}w` }, `${'_'.repeat(42)}w`)).toBe(
      false,
    );
    expect(await verifyReceipt(receipt, 'not a key')).toBe(false);
  });

  it('never throws on arbitrary input (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.string(), async (input, key) => {
        expect(typeof (await verifyReceipt(input, key))).toBe('boolean');
        expect(typeof (await verifyHead(input, relay.publicKey))).toBe('boolean');
        expect(typeof (await verifyReceipt({ ...receipt, entry: input }, relay.publicKey))).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('checks chain segments: links, heights and hashes', async () => {
    expect(await verifyChainSegment(entries, GENESIS_HASH, 0)).toEqual({
      ok: true,
      height: 6,
      hash: entries[5]?.hash,
    });
    const tail = entries.slice(3);
    expect((await verifyChainSegment(tail, entries[2]?.hash as string, 3)).ok).toBe(true);
    expect(await verifyChainSegment(tail, GENESIS_HASH, 3)).toMatchObject({
      ok: false,
      height: 4,
      reason: 'ERR_CHAIN_LINK',
    });
    expect(await verifyChainSegment(tail, entries[2]?.hash as string, 2)).toMatchObject({
      reason: 'ERR_CHAIN_HEIGHT',
    });
    const edited = entries.map((e, i) => (i === 4 ? { ...e, tokens: e.tokens + 1 } : e));
    expect(await verifyChainSegment(edited, GENESIS_HASH)).toMatchObject({
      ok: false,
      height: 5,
      reason: 'ERR_CHAIN_HASH',
    });
    expect(await verifyChainSegment([null], GENESIS_HASH, 0)).toMatchObject({
      height: 1,
      reason: 'ERR_CHAIN_MALFORMED',
    });
    expect(await verifyChainSegment('nope' as unknown as unknown[], GENESIS_HASH)).toMatchObject({
      ok: false,
    });
    expect(await verifyChainSegment([], GENESIS_HASH)).toEqual({ ok: true, height: 0, hash: GENESIS_HASH });
  });
});
