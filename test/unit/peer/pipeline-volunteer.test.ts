// The pipeline peer runtime with a scripted relay, network and engine (no GPU, no sockets): a
// frame counts only when it comes from the replica the route names for its microbatch and
// carries the step's attempt id; the stage syncs with its replicas (and, as the first stage,
// takes the head's tied-embedding gradient), sends its gradient norm to the relay and steps only
// once the relay shared every stage's (clipping by the whole model's norm), then reports the
// hash; an abort rolls the step back. The stage outlives the peer on one connection: a peer
// stopped mid-step (the connection dropped) rolls its step back once idle, the next connection's
// peer claims the stage and its last committed step in `ready`, and one the relay moves to
// another stage lets the old one go and imports the new one's state.
import { expect, it } from 'vitest';
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import { encodeActivationFrame } from '../../../protocol/activation-frame.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { encodeTensorFrame } from '../../../protocol/tensor-frame.ts';
import { HeldStage } from '../../../web/src/peer/held-stage.ts';
import { PipelineVolunteer } from '../../../web/src/peer/pipeline-volunteer.ts';
import type { RelayApi } from '../../../web/src/peer/relay-api.ts';
import type { SwarmClient } from '../../../web/src/peer/swarm-client.ts';

const KEY = (c: string) => `${c.repeat(43).slice(0, 42)}A`;
const [ME, TWIN, UP, STRANGER] = [KEY('m'), KEY('t'), KEY('u'), KEY('s')];

type StageAssignment = Extract<RelayMessage, { type: 'stage-assignment' }>;

/** This peer is one of two replicas of stage 0; UP holds stage 1. Microbatches 0 and 2 are ours. */
const assignment = (attempt: number, change: Partial<StageAssignment> = {}): StageAssignment => ({
  type: 'stage-assignment',
  step: 4,
  attempt,
  stage: 0,
  layers: { start: 0, end: 1 },
  stages: [[ME, TWIN].sort(), [UP]],
  routes: [0, 1, 2, 3].map((m) => [[ME, TWIN].sort().indexOf(m % 2 === 0 ? ME : TWIN), 0]),
  shard: { start: 0, end: 100 },
  stateFrom: null,
  stateTo: [],
  learningRate: 1e-2,
  deadline: Date.now() + 60_000,
  ...change,
});

const gradientFrame = (attempt: number, m: number) =>
  encodeActivationFrame({
    direction: 'backward',
    codec: 'fp32',
    round: attempt,
    microbatch: m,
    sampleIdBase: 0,
    boundary: 0,
    rows: 1,
    width: 1,
    blockSize: 32,
    scales: new Float32Array(0),
    words: Uint32Array.of(0),
  });

const denseFrame = (
  kind: 'stage-gradients' | 'tied-gradient' | 'tied-weights' | 'stage-state',
  attempt: number,
) =>
  encodeTensorFrame({
    kind,
    round: attempt,
    seed: 0,
    keepMax: 0xffffffff,
    paramOffset: 0,
    paramCount: 1,
    candidateCount: 1,
    bits: 32,
    blockSize: 32,
    ordinals: null,
    valueCount: 1,
    scales: new Float32Array(0),
    words: Uint32Array.of(0),
  });

const HASH = 'h'.repeat(64);

/** `held`: what the engine holds when this connection's peer starts (a peer before it may have left it). */
function setup(held = new HeldStage()) {
  const relayListeners: ((m: RelayMessage) => void)[] = [];
  const reports: unknown[] = [];
  const norms: unknown[] = [];
  const readies: [number, string | null][] = [];
  const client = {
    peerId: ME,
    relayKey: KEY('r'),
    on: (l: (m: RelayMessage) => void) => {
      relayListeners.push(l);
      return () => {};
    },
    capabilities: () => {},
    ready: (round: number, modelHash: string | null) => void readies.push([round, modelHash]),
    stageNorm: (n: unknown) => void norms.push(n),
    stageReport: async (r: unknown) => {
      reports.push(r);
    },
    close: () => {},
  } as unknown as SwarmClient;
  let deliver: (from: string, bytes: Uint8Array) => void = () => {};
  const sent: { to: string; bytes: Uint8Array }[] = [];
  const upHandlers = new Set<(key: string) => void>();
  const connectedPeers = [TWIN, UP, STRANGER];
  const network = {
    connect: () => {},
    release: () => {},
    send: async (to: string, bytes: Uint8Array) => {
      sent.push({ to, bytes });
    },
    onMessage: (h: typeof deliver) => {
      deliver = h;
      return () => {};
    },
    onPeerUp: (h: (key: string) => void) => {
      upHandlers.add(h);
      return () => upHandlers.delete(h);
    },
    onPeerDown: () => () => {},
    onPeerRefused: () => () => {},
    traffic: { bytesSent: 0, bytesReceived: 0 },
    connectedPeers,
  };
  const calls: string[] = [];
  const ok = <T>(value: T) => ({ ok: true as const, value });
  const engine: StageVolunteerEngine = {
    openStage: async (s) => void calls.push(`open ${s}`),
    forward: async (tag, m) => {
      calls.push(`forward ${tag}:${m}`);
      return ok({ type: 'frame' as const, bytes: Uint8Array.of(m) });
    },
    backward: async (tag, m, frame) => {
      calls.push(`backward ${tag}:${m}:${frame ? 'frame' : 'none'}`);
      return ok(null);
    },
    gradients: async (tag) => denseFrame('stage-gradients', tag),
    tiedGradient: async () => new Uint8Array(0),
    tiedWeights: async (tag) => denseFrame('tied-weights', tag),
    sumGradients: async (tag, replica, tied) => {
      calls.push(`sum ${tag} replicas=${replica.length} tied=${tied.length}`);
      return ok(2.25);
    },
    applyStep: async (tag, _lr, gradNorm) => void calls.push(`apply ${tag} norm=${gradNorm}`),
    setTiedWeights: async () => ok(undefined),
    paramsHash: async () => HASH,
    exportState: async () => new Uint8Array(0),
    importState: async (tag) => {
      calls.push(`import ${tag}`);
      return ok(undefined);
    },
    commit: async () => void calls.push('commit'),
    rollback: async () => void calls.push('rollback'),
    destroy: async () => void calls.push('destroy'),
  };
  const relay = { tokens: async () => new Uint16Array(100) } as unknown as RelayApi;
  const volunteer = new PipelineVolunteer({
    client,
    network,
    engine,
    held,
    relay,
    store: { addReceipt: async () => {} },
    capabilities: {
      adapter: { vendor: '', architecture: '', description: '', isSoftware: true },
      maxBufferBytes: 0,
      memoryBytes: 0,
      tokensPerSec: 0,
      uplinkBytesPerSec: 0,
      downlinkBytesPerSec: 0,
    },
  });
  const tell = (m: RelayMessage) => {
    for (const l of relayListeners) l(m);
  };
  /** The mesh connects to `key` (or reconnects), as PeerMesh reports it. */
  const linkUp = (key: string) => {
    if (!connectedPeers.includes(key)) connectedPeers.push(key);
    for (const h of [...upHandlers]) h(key);
  };
  const linkDown = (key: string) => connectedPeers.splice(connectedPeers.indexOf(key), 1);
  return {
    volunteer,
    tell,
    linkUp,
    linkDown,
    listeners: () => upHandlers.size,
    deliver: (from: string, b: Uint8Array) => deliver(from, b),
    sent,
    calls,
    norms,
    reports,
    readies,
    held,
  };
}

it('takes frames only from the routed replica for this attempt, syncs with its twin and reports', async () => {
  const { volunteer, tell, deliver, sent, calls, norms, reports, held } = setup();
  await volunteer.start();
  tell(assignment(7));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward')).length).toBe(2);
  expect(calls).toContain('forward 7:0');
  expect(calls).toContain('forward 7:2');
  expect(sent.filter((s) => s.to === UP)).toHaveLength(2); // the activations went up the route

  // The gradient of microbatch 0 from a stranger, from an old attempt, or for the twin's
  // microbatch 1: none of them runs a backward.
  deliver(STRANGER, gradientFrame(7, 0));
  deliver(UP, gradientFrame(6, 0));
  deliver(UP, gradientFrame(7, 1));
  deliver(UP, Uint8Array.of(1, 2, 3)); // not a frame at all
  await new Promise((r) => setTimeout(r, 50));
  expect(calls.some((c) => c.startsWith('backward'))).toBe(false);

  deliver(UP, gradientFrame(7, 0));
  deliver(UP, gradientFrame(7, 2));
  await expect.poll(() => calls.filter((c) => c.startsWith('backward')).length).toBe(2);
  // Synced: our gradients went to the twin; the step waits for the twin's before it applies.
  await expect.poll(() => sent.filter((s) => s.to === TWIN).length).toBe(1);
  expect(calls.some((c) => c.startsWith('apply'))).toBe(false);
  deliver(STRANGER, denseFrame('stage-gradients', 7)); // not a replica: does not count
  await new Promise((r) => setTimeout(r, 50));
  expect(calls.some((c) => c.startsWith('apply'))).toBe(false);
  deliver(TWIN, denseFrame('stage-gradients', 7));
  await new Promise((r) => setTimeout(r, 50));
  expect(calls.some((c) => c.startsWith('sum'))).toBe(false); // the head's tied gradient is missing
  deliver(UP, denseFrame('tied-gradient', 7));
  // The stage's norm goes to the relay; the step waits for every stage's.
  await expect.poll(() => norms).toEqual([{ step: 4, attempt: 7, stage: 0, sumOfSquares: 2.25 }]);
  expect(calls).toContain('sum 7 replicas=2 tied=1');
  tell({ type: 'stage-norms', step: 4, attempt: 6, sumsOfSquares: [2.25, 1.75] }); // an old attempt's
  tell({ type: 'stage-norms', step: 4, attempt: 7, sumsOfSquares: [2.25] }); // not one per stage
  await new Promise((r) => setTimeout(r, 50));
  expect(calls.some((c) => c.startsWith('apply'))).toBe(false);
  expect(reports).toHaveLength(0);
  tell({ type: 'stage-norms', step: 4, attempt: 7, sumsOfSquares: [2.25, 1.75] });
  await expect.poll(() => reports.length).toBe(1);
  expect(calls).toContain('apply 7 norm=2'); // sqrt(2.25 + 1.75), the whole model's
  expect(reports[0]).toMatchObject({ step: 4, stage: 0, microbatches: 2, lossSum: null });

  tell({ type: 'stage-commit', step: 4, modelHash: 'c'.repeat(64), head: null });
  await expect.poll(() => calls.at(-1)).toBe('commit');
  expect(volunteer.committedSteps).toBe(1);
  expect(volunteer.heldStage).toBe(0);
  expect(held.committedStep).toBe(4); // what a peer on the next connection claims
});

it('claims no stage in its ready on a fresh engine, and the stage and step it committed last on one that holds it', async () => {
  const fresh = setup();
  await fresh.volunteer.start();
  expect(fresh.readies).toEqual([[-1, null]]);

  const held = new HeldStage();
  held.opened(0);
  held.committed(3);
  const back = setup(held);
  await back.volunteer.start();
  expect(back.readies).toEqual([[3, HASH]]);
  // Seated back on its stage without a transfer: it trains on the weights it kept.
  back.tell(assignment(7));
  await expect.poll(() => back.calls.filter((c) => c.startsWith('forward 7')).length).toBe(2);
  expect(back.calls.some((c) => c.startsWith('open') || c === 'destroy')).toBe(false);
});

it('rolls back the step in flight once stopped, keeps the stage, and the next peer claims what was committed', async () => {
  const held = new HeldStage();
  held.opened(0);
  held.committed(3);
  const { volunteer, tell, calls } = setup(held);
  await volunteer.start();
  tell(assignment(7));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 7')).length).toBe(2);
  volunteer.stop('the connection to the relay dropped');
  expect(calls.at(-1)).not.toBe('rollback'); // the engine is let go of only once idle
  await volunteer.idle();
  await volunteer.idle(); // a second wait rolls back nothing more
  expect(calls.filter((c) => c === 'rollback')).toHaveLength(1);
  expect(calls.at(-1)).toBe('rollback');
  expect(calls).not.toContain('destroy');
  expect(held.stage).toBe(0);

  const next = setup(held);
  await next.volunteer.start();
  expect(next.readies).toEqual([[3, HASH]]); // step 4 never committed here
});

it('a peer the relay moves to another stage lets its stage go, opens the new one and imports its state', async () => {
  const held = new HeldStage();
  held.opened(1);
  held.committed(1); // it sat out steps 2 and 3
  const { volunteer, tell, deliver, calls } = setup(held);
  await volunteer.start();
  tell(assignment(7, { stateFrom: TWIN }));
  await expect.poll(() => calls).toEqual(['destroy', 'open 0']);
  expect(held.stage).toBe(0);
  expect(held.committedStep).toBe(-1); // θ_0 until the state comes
  deliver(TWIN, denseFrame('stage-state', 7));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 7')).length).toBe(2);
  expect(calls.slice(0, 3)).toEqual(['destroy', 'open 0', 'import 7']);
  expect(held.committedStep).toBe(3); // what step 3 committed, the step before the assignment's
});

it('rolls back an aborted step and takes up the next attempt', async () => {
  const { volunteer, tell, deliver, calls } = setup();
  await volunteer.start();
  tell(assignment(3));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 3')).length).toBe(2);
  tell({ type: 'stage-abort', step: 4, reason: 'a stage replica left' });
  await expect.poll(() => calls.at(-1)).toBe('rollback');
  tell(assignment(4));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 4')).length).toBe(2);
  deliver(UP, gradientFrame(3, 0)); // the aborted attempt's gradient is stale now
  await new Promise((r) => setTimeout(r, 50));
  expect(calls.some((c) => c.startsWith('backward'))).toBe(false);
});

it('sends an activation once its link comes up, and stops waiting when the step is aborted', async () => {
  const { volunteer, tell, sent, calls, linkUp, linkDown, listeners } = setup();
  linkDown(UP);
  await volunteer.start();
  tell(assignment(5));
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 5')).length).toBe(1);
  await new Promise((r) => setTimeout(r, 50));
  // The first forward's frame waits for the link to UP; nothing else runs meanwhile.
  expect(sent.filter((s) => s.to === UP)).toHaveLength(0);
  expect(listeners()).toBe(1);
  linkUp(UP);
  await expect.poll(() => sent.filter((s) => s.to === UP).length).toBe(2);
  expect(listeners()).toBe(0);

  linkDown(UP);
  tell(assignment(6)); // the relay moved on: the step is taken up again, and UP is gone
  await expect.poll(() => calls.filter((c) => c.startsWith('forward 6')).length).toBe(1);
  expect(listeners()).toBe(1);
  tell({ type: 'stage-abort', step: 4, reason: 'the step passed its deadline' });
  await expect.poll(() => calls.at(-1)).toBe('rollback');
  expect(listeners()).toBe(0);
});
