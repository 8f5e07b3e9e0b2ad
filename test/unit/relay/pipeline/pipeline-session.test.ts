// The `/swarm` session in both kinds of run: a stage-report or stage-norm is refused where the run
// trains in rounds, and in a pipeline run a round's manifest is refused, a stage-report must carry
// the sender's own signature and a stage-norm a finite sum of squares >= 0; each refusal closes
// only that connection.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { helloMessage, manifestMessage, stageReportMessage } from '../../../../protocol/swarm-signing.ts';
import type { RelayHandle } from '../../../../relay/server.ts';
import {
  generateKeyPair,
  identityFromKeyPair,
  type PeerIdentity,
} from '../../../../web/src/peer/identity.ts';
import { smallDataset, startTestRelay } from '../../../helpers/test-relay.ts';
import { freshStamps } from '../../../helpers/test-stamps.ts';

let rounds: RelayHandle;
let pipeline: RelayHandle;

beforeAll(async () => {
  const dataset = await smallDataset();
  rounds = await startTestRelay(dataset);
  pipeline = await startTestRelay(dataset, {
    overrides: {
      model: { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 2, nHead: 2 },
      inner: { batchSize: 4, seqLen: 16 },
      pipeline: { stages: 2, microbatches: 2, microbatchSize: 2 },
    },
  });
});
afterAll(async () => {
  await rounds?.close();
  await pipeline?.close();
});

/** Authenticates as `me`, sends what `act` builds, and resolves to the code the relay refused with. */
function refusal(
  relay: RelayHandle,
  me: PeerIdentity,
  act: (runId: string) => Promise<object | string>,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/swarm`);
    const timer = setTimeout(() => reject(new Error('the relay did not close the connection')), 15_000);
    let runId = '';
    let code: string | undefined;
    ws.on('message', async (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'challenge') {
        runId = message.runId;
        const signature = await me.sign(helloMessage(runId, message.nonce));
        const stamp = await freshStamps(me.publicKey)(runId, message.stampBits);
        ws.send(
          JSON.stringify({ type: 'hello', publicKey: me.publicKey, signature, stamp, platform: 'node' }),
        );
      } else if (message.type === 'welcome') {
        const reply = await act(runId);
        ws.send(typeof reply === 'string' ? reply : JSON.stringify(reply));
      } else if (message.type === 'error') code = message.code;
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const report = { step: 0, stage: 1, paramsHash: 'a'.repeat(64), microbatches: 2, lossSum: 3.5 };

it('refuses a stage-report in a run that trains in rounds', async () => {
  const me = await identityFromKeyPair(await generateKeyPair());
  const code = await refusal(rounds, me, async (runId) => ({
    type: 'stage-report',
    ...report,
    signature: await me.sign(stageReportMessage(runId, report)),
  }));
  expect(code).toBe('ERR_SWARM_UNSUPPORTED');
  const norm = { type: 'stage-norm', step: 0, attempt: 1, stage: 0, sumOfSquares: 1 };
  expect(await refusal(rounds, me, async () => norm)).toBe('ERR_SWARM_UNSUPPORTED');
});

it('in a pipeline run, refuses a stage-norm whose sum of squares is negative or overflows to Infinity', async () => {
  const me = await identityFromKeyPair(await generateKeyPair());
  const norm = (sum: string) => `{"type":"stage-norm","step":0,"attempt":1,"stage":0,"sumOfSquares":${sum}}`;
  expect(await refusal(pipeline, me, async () => norm('-2'))).toBe('ERR_SWARM_SCHEMA');
  expect(await refusal(pipeline, me, async () => norm('1e999'))).toBe('ERR_SWARM_SCHEMA');
});

it('in a pipeline run, refuses a manifest and a stage-report signed by another key', async () => {
  const me = await identityFromKeyPair(await generateKeyPair());
  const other = await identityFromKeyPair(await generateKeyPair());
  const manifest = {
    round: 0,
    frameHash: 'b'.repeat(64),
    frameBytes: 10,
    stateHash: 'c'.repeat(64),
    holds: [],
    trainLoss: null,
  };
  expect(
    await refusal(pipeline, me, async (runId) => ({
      type: 'manifest',
      ...manifest,
      signature: await me.sign(manifestMessage(runId, manifest)),
    })),
  ).toBe('ERR_SWARM_UNSUPPORTED');
  expect(
    await refusal(pipeline, me, async (runId) => ({
      type: 'stage-report',
      ...report,
      signature: await other.sign(stageReportMessage(runId, report)),
    })),
  ).toBe('ERR_SWARM_SIGNATURE');
  // None of it committed a step, and the relay still answers.
  const health = (await (await pipeline.app.request('/healthz')).json()) as { committedRound: number };
  expect(health.committedRound).toBe(-1);
});
