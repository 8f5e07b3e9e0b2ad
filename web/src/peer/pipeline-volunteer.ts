// A volunteer's loop in a pipeline-parallel run, the same in a tab and in the headless Node
// volunteer. The relay (relay/pipeline/pipeline-coordinator.ts) names this peer's stage and,
// per optimizer step, which replica of every stage runs each microbatch. Then, peer to peer:
//
//   microbatches  forward: tokens (first stage) or the previous stage's activation frame in,
//                 the activation frame out to the next stage's replica on the route; the last
//                 stage turns its forward straight into a backward; backward: the next stage's
//                 gradient frame in, the gradient frame out to the previous stage's replica.
//                 Backwards go first (1F1B), and the first stage keeps at most S microbatches
//                 in flight, so every stage's memory stays bounded by the schedule.
//   sync          the stage's replicas swap their summed gradients and all step on the same
//                 sum; the last stage sends the head's gradient of the tied embedding to the
//                 first, whose lowest key sends the new embedding back after its step.
//   report        the stage's weights hash (signed) to the relay, which commits the step when
//                 every stage's replicas agree, or aborts it (the step is rolled back).
//
// A volunteer seated after the run began first imports its stage's weights and optimizer state
// from the replica the relay names (`stateFrom`), which sends them before its own work.
//
// Every frame carries the relay's attempt id for the step (a step aborted and opened again gets
// a new one), so a frame from an aborted attempt never counts in the next.
//
// Frames come from peers and are refused, never trusted: one that is not from the replica the
// route names for it, or does not decode, is dropped and the step's deadline handles the rest.
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import { activationFrameHeader } from '../../../protocol/activation-frame.ts';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { frameKind, frameRound, type TensorKind } from '../../../protocol/tensor-frame.ts';
import type { RelayApi } from './relay-api.ts';
import { noticeEvent } from './relay-notices.ts';
import type { SwarmClient } from './swarm-client.ts';
import type { FrameNetwork, VolunteerStore } from './volunteer.ts';

type StageAssignment = Extract<RelayMessage, { type: 'stage-assignment' }>;

export type PipelineEvent =
  | { readonly type: 'status'; readonly text: string }
  | {
      readonly type: 'stage';
      readonly stage: number;
      readonly stages: number;
      readonly layers: { start: number; end: number };
    }
  | {
      readonly type: 'step';
      readonly step: number;
      readonly phase: 'microbatches' | 'sync' | 'reported' | 'committed' | 'aborted';
      /** Volunteers in the pipeline this step (0 where this phase does not say). */
      readonly peers: number;
    }
  | {
      readonly type: 'microbatch';
      readonly step: number;
      readonly microbatch: number;
      readonly loss: number | null;
    }
  | { readonly type: 'committed'; readonly step: number; readonly loss: number | null }
  | { readonly type: 'receipt'; readonly receipt: Receipt }
  | { readonly type: 'traffic'; readonly bytesSent: number; readonly bytesReceived: number };

export interface PipelineVolunteerOptions {
  readonly client: SwarmClient;
  readonly network: FrameNetwork;
  readonly engine: StageVolunteerEngine;
  readonly relay: RelayApi;
  readonly store: Pick<VolunteerStore, 'addReceipt'>;
  /** Reported to the relay's stage planner. */
  readonly capabilities: Parameters<SwarmClient['capabilities']>[0];
  readonly onEvent?: (event: PipelineEvent) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Frames that arrive before their step's assignment are kept, up to this many. */
const MAX_EARLY_FRAMES = 256;
/** ...and up to this many bytes in all: a peer cannot make this one hold more. */
const MAX_EARLY_BYTES = 64 * 2 ** 20;
/** How often a waiting sync looks again for the frames it needs, or a send for its link. */
const POLL_MS = 20;

/** A peer's frame with what its header says: the attempt it belongs to and what it carries. */
interface TaggedFrame {
  readonly from: string;
  readonly bytes: Uint8Array;
  readonly attempt: number;
  readonly activation: ReturnType<typeof activationFrameHeader>;
  readonly kind: TensorKind | null;
}

/** Reads a frame's header once; null for bytes that are none of our frames. */
function tagOf(from: string, bytes: Uint8Array): TaggedFrame | null {
  const activation = activationFrameHeader(bytes);
  if (activation) return { from, bytes, attempt: activation.round, activation, kind: null };
  const kind = frameKind(bytes);
  const attempt = frameRound(bytes);
  return kind && attempt !== null ? { from, bytes, attempt, activation: null, kind } : null;
}

/** One step's work on this peer. */
class StepWork {
  readonly stage: number;
  readonly S: number;
  /** Microbatches the route gives this peer on its stage, in order. */
  readonly mine: number[];
  readonly forwarded = new Set<number>();
  readonly backwarded = new Set<number>();
  /** Activation frames by `${direction}:${microbatch}`. */
  readonly activations = new Map<string, Uint8Array>();
  /** End-of-step tensor frames by `${kind}:${sender}`. */
  readonly tensors = new Map<string, Uint8Array>();
  tokens: Uint32Array | null = null;
  lossSum = 0;
  phase: 'microbatches' | 'sync' | 'reported' = 'microbatches';
  /** The stage's state went to the new replicas (stateTo) and came from the source (stateFrom). */
  stateDone = false;
  stateSent = false;
  aborted = false;
  stepped = false;

  constructor(
    readonly a: StageAssignment,
    readonly me: string,
  ) {
    this.stage = a.stage;
    this.S = a.stages.length;
    const r = a.stages[a.stage]?.indexOf(me) ?? -1;
    this.mine = a.routes.flatMap((route, m) => (route[a.stage] === r ? [m] : []));
  }

  get isFirst(): boolean {
    return this.stage === 0;
  }

  get isLast(): boolean {
    return this.stage === this.S - 1;
  }

  /** The replica that runs microbatch m on stage s. */
  peerOf(m: number, s: number): string {
    return this.a.stages[s]?.[this.a.routes[m]?.[s] ?? -1] ?? '';
  }

  get inFlight(): number {
    return this.forwarded.size - this.backwarded.size;
  }
}

export class PipelineVolunteer {
  private work: StepWork | null = null;
  private early: TaggedFrame[] = [];
  private earlyBytes = 0;
  private stage: number | null = null;
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();
  private pumping: Promise<void> = Promise.resolve();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  /** Steps this peer saw committed, for the page and the tests. */
  committedSteps = 0;

  constructor(private readonly options: PipelineVolunteerOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  get peerId(): string {
    return this.options.client.peerId;
  }

  /** The stage this peer holds, once the relay has seated it. */
  get heldStage(): number | null {
    return this.stage;
  }

  async start(): Promise<void> {
    const { client, network } = this.options;
    this.unsubscribe.push(network.onMessage((from, bytes) => this.frame(from, bytes)));
    this.unsubscribe.push(
      client.on((message) => {
        this.queue = this.queue
          .then(() => this.handle(message))
          .catch((error: unknown) =>
            this.emit({
              type: 'status',
              text: `pipeline step failed: ${error instanceof Error ? error.message : error}`,
            }),
          );
      }),
    );
    client.capabilities(this.options.capabilities);
    client.ready(-1, null);
  }

  stop(reason = 'leaving'): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.work) this.work.aborted = true;
    for (const off of this.unsubscribe) off();
    this.options.client.close(reason);
  }

  /** Resolves when the GPU work under way has stopped (after stop(), before freeing the engine). */
  async idle(): Promise<void> {
    await this.pumping;
  }

  private emit(event: PipelineEvent): void {
    this.options.onEvent?.(event);
  }

  private async handle(message: RelayMessage): Promise<void> {
    if (this.stopped) return;
    switch (message.type) {
      case 'stage-assignment':
        return this.begin(message);
      case 'stage-commit': {
        const work = this.work;
        if (work?.a.step !== message.step) return;
        await this.pumping;
        await this.options.engine.commit();
        this.work = null;
        this.committedSteps++;
        this.emit({ type: 'step', step: message.step, phase: 'committed', peers: 0 });
        this.emit({
          type: 'committed',
          step: message.step,
          loss: work.isLast ? work.lossSum / work.mine.length || null : null,
        });
        return;
      }
      case 'stage-abort': {
        const work = this.work;
        if (work?.a.step !== message.step) return;
        work.aborted = true;
        await this.pumping; // let the GPU finish what it is doing before the weights go back
        await this.options.engine.rollback();
        this.work = null;
        this.emit({ type: 'step', step: message.step, phase: 'aborted', peers: 0 });
        this.emit({ type: 'status', text: `step ${message.step} aborted: ${message.reason}` });
        return;
      }
      case 'receipt':
      case 'wait':
      case 'error':
        this.emit(await noticeEvent(message, this.options.client.relayKey, this.options.store));
        return;
      default:
        return; // the data-parallel round's messages do not come in a pipeline run
    }
  }

  private async begin(a: StageAssignment): Promise<void> {
    const { engine, network, relay } = this.options;
    if (this.work && !this.work.aborted) {
      // The relay moved on (it aborted the step we were in and its abort is behind this message).
      this.work.aborted = true;
      await this.pumping;
      await engine.rollback();
    }
    if (this.stage === null) {
      await engine.openStage(a.stage);
      this.stage = a.stage;
      this.emit({ type: 'stage', stage: a.stage, stages: a.stages.length, layers: a.layers });
    } else if (this.stage !== a.stage) {
      this.emit({
        type: 'status',
        text: `the relay moved this peer to stage ${a.stage}; it holds ${this.stage}`,
      });
      return;
    }
    const work = new StepWork(a, this.peerId);
    this.work = work;
    this.emit({ type: 'step', step: a.step, phase: 'microbatches', peers: a.stages.flat().length });
    // Neighbours on the route, the stage's replicas, and the tied embedding's other end.
    const near = [a.stage - 1, a.stage, a.stage + 1];
    if (work.isFirst) near.push(work.S - 1);
    if (work.isLast) near.push(0);
    const wanted = new Set(near.flatMap((s) => a.stages[s] ?? []).filter((id) => id !== this.peerId));
    network.connect([...wanted]);
    if (work.isFirst || work.isLast) work.tokens = Uint32Array.from(await relay.tokens(a.shard));
    if (work.aborted) return;
    const early = this.early.splice(0);
    this.earlyBytes = 0;
    for (const frame of early) if (frame.attempt === a.attempt) this.file(work, frame);
    this.pump();
  }

  /** A frame from a peer: filed under the current step, or kept until its step is assigned. */
  private frame(from: string, bytes: Uint8Array): void {
    const frame = tagOf(from, bytes);
    if (!frame) return;
    const work = this.work;
    if (!work || frame.attempt > work.a.attempt) {
      if (this.early.length < MAX_EARLY_FRAMES && this.earlyBytes + bytes.byteLength <= MAX_EARLY_BYTES) {
        this.early.push(frame);
        this.earlyBytes += bytes.byteLength;
      }
      return;
    }
    if (frame.attempt !== work.a.attempt) return; // from an aborted attempt of this or an earlier step
    this.file(work, frame);
    this.pump();
  }

  /** Files a frame of the current attempt: an activation under its microbatch, a tensor under its sender. */
  private file(work: StepWork, { from, bytes, activation, kind }: TaggedFrame): void {
    if (activation) {
      if (!work.mine.includes(activation.microbatch)) return;
      // Only the replica the route names for this microbatch may feed it.
      const expected =
        activation.direction === 'forward'
          ? work.peerOf(activation.microbatch, work.stage - 1)
          : work.peerOf(activation.microbatch, work.stage + 1);
      if (from === expected) work.activations.set(`${activation.direction}:${activation.microbatch}`, bytes);
    } else if (kind) work.tensors.set(`${kind}:${from}`, bytes);
  }

  /** Runs whatever work is ready, one operation at a time. */
  private pump(): void {
    this.pumping = this.pumping
      .then(() => this.runReady())
      .catch((error: unknown) => {
        this.emit({
          type: 'status',
          text: `stage work failed: ${error instanceof Error ? error.message : error}`,
        });
      });
  }

  private async runReady(): Promise<void> {
    const work = this.work;
    if (!work || work.aborted || work.phase !== 'microbatches') return;
    if ((work.isFirst || work.isLast) && !work.tokens) return; // still downloading
    if (!work.stateDone && !(await this.handOverState(work))) return;
    for (;;) {
      if (work.aborted || this.stopped) return;
      if (!(await this.nextOperation(work))) break;
    }
    if (work.backwarded.size === work.mine.length && work.phase === 'microbatches') {
      work.phase = 'sync';
      this.emit({ type: 'step', step: work.a.step, phase: 'sync', peers: 0 });
      await this.sync(work);
    }
  }

  /**
   * Before the step's work: a replica named in `stateTo` sends its stage's state (the committed
   * one: nothing of this step has run yet), and a new replica imports the state its `stateFrom`
   * sent. False while that state has not arrived (its arrival pumps again).
   */
  private async handOverState(work: StepWork): Promise<boolean> {
    const { engine } = this.options;
    const { stateFrom, stateTo, attempt } = work.a;
    if (stateTo.length > 0 && !work.stateSent) {
      work.stateSent = true;
      const state = await engine.exportState(attempt);
      await Promise.all(stateTo.map((id) => this.deliver(work, id, state)));
    }
    if (stateFrom) {
      const frame = work.tensors.get(`stage-state:${stateFrom}`);
      if (!frame) return false;
      const imported = await engine.importState(attempt, frame);
      if (!imported.ok) {
        this.emit({ type: 'status', text: `the stage's state did not check out: ${imported.error.message}` });
        return false;
      }
      this.emit({ type: 'status', text: `fetched stage ${work.stage + 1}'s weights from a replica` });
    }
    work.stateDone = true;
    return true;
  }

  /** One backward (preferred) or one forward whose input is here; false when none is. */
  private async nextOperation(work: StepWork): Promise<boolean> {
    const { engine } = this.options;
    const step = work.a.step;
    const tag = work.a.attempt;
    for (const m of work.mine) {
      if (!work.forwarded.has(m) || work.backwarded.has(m)) continue;
      const frame = work.isLast ? undefined : work.activations.get(`backward:${m}`);
      if (!work.isLast && !frame) continue;
      const out = await engine.backward(tag, m, frame);
      if (!out.ok) return this.refused(work, m, out.error.message);
      work.backwarded.add(m);
      if (out.value) await this.deliver(work, work.peerOf(m, work.stage - 1), out.value);
      return true;
    }
    for (const m of work.mine) {
      if (work.forwarded.has(m)) continue;
      if (work.isFirst && work.inFlight >= work.S) return false;
      const frame = work.isFirst ? undefined : work.activations.get(`forward:${m}`);
      if (!work.isFirst && !frame) continue;
      const out = await engine.forward(tag, m, { tokens: work.tokens ?? undefined, frame });
      if (!out.ok) return this.refused(work, m, out.error.message);
      work.forwarded.add(m);
      if (out.value.type === 'loss') {
        work.lossSum += out.value.loss;
        this.emit({ type: 'microbatch', step, microbatch: m, loss: out.value.loss });
      } else {
        this.emit({ type: 'microbatch', step, microbatch: m, loss: null });
        await this.deliver(work, work.peerOf(m, work.stage + 1), out.value.bytes);
      }
      return true;
    }
    return false;
  }

  /** A neighbour's frame did not decode or fit: drop it; its sender's deadline handles the rest. */
  private refused(work: StepWork, m: number, why: string): boolean {
    work.activations.delete(`forward:${m}`);
    work.activations.delete(`backward:${m}`);
    this.emit({ type: 'status', text: `refused a frame for microbatch ${m}: ${why}` });
    return true;
  }

  /**
   * Sends once the link to `to` is up (the first frames of a step may be ready before the mesh
   * has connected to a neighbour), retrying a link that drops, until the step is over: a peer
   * that left makes the relay abort the step, which ends the wait.
   */
  private async deliver(work: StepWork, to: string, bytes: Uint8Array): Promise<void> {
    const { network } = this.options;
    while (!work.aborted && !this.stopped) {
      if (network.connectedPeers.includes(to)) {
        const sent = await network.send(to, bytes).then(
          () => true,
          () => false,
        );
        if (sent) return;
      }
      await this.sleep(POLL_MS);
    }
  }

  /** Waits until `ready` holds, the step is aborted (false), or the peer stops. */
  private async waitFor(work: StepWork, ready: () => boolean): Promise<boolean> {
    while (!ready()) {
      if (work.aborted || this.stopped) return false;
      await this.sleep(POLL_MS);
    }
    return !work.aborted && !this.stopped;
  }

  private async sync(work: StepWork): Promise<void> {
    const { engine, network, client } = this.options;
    const { a, stage, S } = work;
    const step = a.step;
    const tag = a.attempt;
    const replicas = a.stages[stage] ?? [];
    const firsts = a.stages[0] ?? [];
    const lasts = a.stages[S - 1] ?? [];
    const send = (to: readonly string[], bytes: Uint8Array) =>
      Promise.all(
        to.filter((id) => id !== this.peerId).map((id) => network.send(id, bytes).catch(() => undefined)),
      );
    const own = await engine.gradients(tag);
    work.tensors.set(`stage-gradients:${this.peerId}`, own);
    await send(replicas, own);
    const tied = S > 1;
    if (tied && work.isLast) await send(firsts, await engine.tiedGradient(tag));
    const has = (kind: TensorKind, from: string) => work.tensors.has(`${kind}:${from}`);
    const get = (kind: TensorKind, ids: readonly string[]) =>
      ids.map((id) => work.tensors.get(`${kind}:${id}`) as Uint8Array);
    const inputsHere = () =>
      replicas.every((id) => has('stage-gradients', id)) &&
      (!tied || !work.isFirst || lasts.every((id) => has('tied-gradient', id)));
    if (!(await this.waitFor(work, inputsHere))) return;
    const applied = await engine.applyStep(
      tag,
      a.learningRate,
      get('stage-gradients', replicas),
      tied && work.isFirst ? get('tied-gradient', lasts) : [],
    );
    if (!applied.ok) {
      this.emit({ type: 'status', text: `step ${step} refused a replica's frame: ${applied.error.message}` });
      return;
    }
    work.stepped = true;
    if (tied && work.isFirst && firsts[0] === this.peerId) await send(lasts, await engine.tiedWeights(tag));
    if (tied && work.isLast) {
      const owner = firsts[0] ?? '';
      if (!(await this.waitFor(work, () => has('tied-weights', owner)))) return;
      const written = await engine.setTiedWeights(
        tag,
        work.tensors.get(`tied-weights:${owner}`) as Uint8Array,
      );
      if (!written.ok) {
        this.emit({
          type: 'status',
          text: `step ${step}: the tied embedding did not decode: ${written.error.message}`,
        });
        return;
      }
    }
    const paramsHash = await engine.paramsHash();
    if (work.aborted) return;
    work.phase = 'reported';
    await client.stageReport({
      step,
      stage,
      paramsHash,
      microbatches: work.mine.length,
      lossSum: work.isLast ? work.lossSum : null,
    });
    this.emit({ type: 'step', step, phase: 'reported', peers: 0 });
    this.emit({
      type: 'traffic',
      bytesSent: network.traffic.bytesSent,
      bytesReceived: network.traffic.bytesReceived,
    });
  }
}
