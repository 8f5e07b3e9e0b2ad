// Where a run came from, on every backend: recorded once and signed, read back as written, a
// second record ignored, an edit in the database refused, and the audit chain untouched.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyRunOrigin } from '../../../protocol/run-origin-record.ts';
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { generateRelaySigner, type RelaySigner } from '../../../relay/ledger/relay-signer.ts';
import { backends, type TestDatabase } from './backends.ts';
import { credit, modelHash, roundInput, tickingClock } from './fixtures.ts';

const ORIGIN = { kind: 'run' as const, source: 'run-a', round: 1, modelHash: modelHash(1) };

describe.each(backends())('$name', (backend) => {
  let db: TestDatabase;
  let signer: RelaySigner;
  let ledger: Ledger;

  describe.skipIf(backend.unavailable)('run origins', () => {
    beforeEach(async () => {
      db = await backend.fresh();
      signer = await generateRelaySigner();
      ledger = await Ledger.open(db.sql, signer, tickingClock());
      await ledger.ensureRun('run-a', { model: 'a' });
      await ledger.ensureRun('run-b', { model: 'b' });
    });
    afterEach(() => db.dispose());
    afterAll(() => backend.shutdown());

    it('records a run origin once, signed, beside an intact chain', async () => {
      await ledger.commitRound(roundInput('run-a', 0, [credit(0, 100)]));
      await ledger.commitRound(roundInput('run-a', 1, [credit(0, 100)]));
      expect(await ledger.origin('run-b')).toBeNull();
      const record = await ledger.recordOrigin({ runId: 'run-b', ...ORIGIN });
      expect(record).toEqual({
        runId: 'run-b',
        ...ORIGIN,
        recordedAt: expect.stringMatching(/^2025-01-01T00:00:0\d\.000Z$/),
        signature: expect.any(String),
      });
      expect(await verifyRunOrigin(record, signer.publicKey)).toBe(true);
      expect(await ledger.origin('run-b')).toEqual(record);
      // The first record stands: a second relay opening the run gets it back, not its own.
      const again = await ledger.recordOrigin({
        runId: 'run-b',
        ...ORIGIN,
        modelHash: modelHash(0),
        round: 0,
      });
      expect(again).toEqual(record);
      // A record is beside the chain, not in it: the audit still verifies every entry and head.
      await ledger.commitRound(roundInput('run-b', 0, [credit(1, 50)]));
      expect(await ledger.verifyChain()).toMatchObject({ ok: true, height: 3 });
      // And a reopened ledger reads it the same.
      const reopened = await Ledger.open(db.sql, signer);
      expect(await reopened.origin('run-b')).toEqual(record);
    });

    it('records a file origin with no round', async () => {
      const record = await ledger.recordOrigin({
        runId: 'run-b',
        kind: 'file',
        source: 'model.safetensors',
        round: null,
        modelHash: modelHash(7),
      });
      expect(await ledger.origin('run-b')).toEqual(record);
      expect(record.round).toBeNull();
    });

    it('refuses an origin edited in the database', async () => {
      await ledger.recordOrigin({ runId: 'run-b', ...ORIGIN });
      await db.sql.query('update run_origins set model_hash = $1', [modelHash(2)]);
      await expect(ledger.origin('run-b')).rejects.toMatchObject({ code: 'ERR_LEDGER_BROKEN' });
    });

    it('refuses an origin it cannot record', async () => {
      await expect(
        ledger.recordOrigin({ runId: 'run-b', ...ORIGIN, modelHash: 'nope' }),
      ).rejects.toMatchObject({
        code: 'ERR_LEDGER_INPUT',
      });
      await expect(ledger.recordOrigin({ runId: 'no-such-run', ...ORIGIN })).rejects.toThrow();
    });

    it('reads back a run config, null for a run it never saw', async () => {
      expect(await ledger.runConfig('run-a')).toEqual({ model: 'a' });
      expect(await ledger.runConfig('no-such-run')).toBeNull();
      expect(await ledger.runConfig('not a run id')).toBeNull();
    });
  });
});
