// A volunteer's loop in a pipeline-parallel run, the same in a tab and in the headless Node
// volunteer. The relay (relay/pipeline/pipeline-coordinator.ts) names this peer's stage and,
// per optimizer step, which replica of every stage runs each microbatch. Then, peer to peer:
//
//   microbatches  forward: tokens (first stage) or the previous stage's activation frame in,
//                 the activation frame out to the next stage's replica on the route; the last
//                 stage turns its forward straight into a backward; backward: the next stage's
//                 gradient frame in, the gradient frame out to the previous stage's replica.
//                 The order is kernels/pipeline/stage-order.ts's: backwards first (1F1B), and
//                 the first stage keeps at most S microbatches in flight, so every stage's
//                 memory stays bounded. Sends wait for the link (link-delivery.ts).
//   sync, report  the replicas swap gradients, every stage's gradient norm goes round through
//                 the relay so all clip by the whole model's norm, the replicas step alike, the
//                 tied embedding crosses, and the weights hash goes to the relay (stage-sync.ts),
//                 which commits the step when every stage's replicas agree, or aborts it (the
//                 step is rolled back).
//
// A volunteer seated after the run began first imports its stage's weights and optimizer state
// from the replica the relay names (`stateFrom`), which sends them before its own work. One the
// relay moves to another stage (it was away, or sat out a few steps) lets its old stage go and
// does the same on the new one.
//
// The stage outlives the peer on one connection (held-stage.ts): once a peer stopped (the
// connection dropped) and went idle, the step it was in is rolled back, and the peer on the next
// connection claims the stage and its last committed step in its `ready`; the relay seats it
// back on that stage without a transfer when the claim is the stage's state it committed last.
//
// Every frame carries the relay's attempt id for the step (a step aborted and opened again gets
// a new one), so a frame from an aborted attempt never counts in the next.
//
// Frames come from peers and are refused, never trusted: one that is not from the replica the
// route names for it (stage-step.ts), or does not decode, is dropped and the step's deadline
// handles the rest. Nothing here polls: waits end when the frame or link they wait for arrives,
// or when the step ends.

import { nextStageOp } from '../../../kernels/pipeline/stage-order.ts';
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import { activationFrameHeader } from '../../../protocol/activation-frame.ts';
import type { HeldStage } from './held-stage.ts';
import { deliver, type LinkNetwork } from './link-delivery.ts';
import type { PipelineEvent } from './pipeline-events.ts';
import type { RelayApi } from './relay-api.ts';
import { RelayDrivenPeer, type RunMessage } from './relay-driven-peer.ts';
import { EarlyFrames, tagFrame } from './stage-frames.ts';
import { type StageAssignment, StageStep } from './stage-step.ts';
import { syncStage } from './stage-sync.ts';
import type { SwarmClient } from './swarm-client.ts';
import type { FrameNetwork, VolunteerStore } from './volunteer.ts';

export interface PipelineVolunteerOptions {
  readonly client: SwarmClient;
  readonly network: FrameNetwork & LinkNetwork;
  readonly engine: StageVolunteerEngine;
  /** What `engine` holds; the same record for every connection's peer, as the engine is. */
  readonly held: HeldStage;
  readonly relay: RelayApi;
  readonly store: Pick<VolunteerStore, 'addReceipt'>;
  /** Reported to the relay (which seats round robin and does not weigh it). */
  readonly capabilities: Parameters<SwarmClient['capabilities']>[0];
  readonly onEvent?: (event: PipelineEvent) => void;
}

export class PipelineVolunteer extends RelayDrivenPeer<PipelineEvent> {
  private work: StageStep | null = null;
  private readonly early = new EarlyFrames();
  private pumping: Promise<void> = Promise.resolve();
  /** Set by the first idle() after stop(): the step this peer abandoned, rolled back. */
  private abandoned: Promise<void> | null = null;
  /** Steps this peer saw committed, for the page and the tests. */
  committedSteps = 0;

  constructor(private readonly options: PipelineVolunteerOptions) {
    super(options);
  }

  get peerId(): string {
    return this.options.client.peerId;
  }

  /** The stage this peer holds, once the relay has seated it (or a peer before it on this engine). */
  get heldStage(): number | null {
    return this.options.held.stage;
  }

  async start(): Promise<void> {
    const { client, network, engine, held } = this.options;
    const claim = await held.claim(engine);
    this.unsubscribe.push(network.onMessage((from, bytes) => this.frame(from, bytes)));
    this.listen();
    client.capabilities(this.options.capabilities);
    client.ready(claim.round, claim.modelHash);
  }

  protected override leaving(): void {
    this.work?.abort();
  }

  protected failed(error: unknown): void {
    this.emit({
      type: 'status',
      text: `pipeline step failed: ${error instanceof Error ? error.message : error}`,
    });
  }

  /**
   * Resolves when the GPU work under way has stopped; after stop(), once the step it abandoned is
   * rolled back too, so the engine holds its last committed step for the next connection's peer.
   */
  override async idle(): Promise<void> {
    await super.idle();
    await this.pumping;
    if (!this.stopped) return;
    this.abandoned ??= this.rollBackAbandoned();
    await this.abandoned;
  }

  /**
   * The step this peer was in cannot commit on this connection any more (the relay aborts it, or
   * its commit went down with the connection): the next connection's peer claims the step before
   * it, which the engine holds again once the step is rolled back.
   */
  private async rollBackAbandoned(): Promise<void> {
    if (!this.work) return;
    this.work = null;
    await this.options.engine.rollback();
  }

  protected async handle(message: RunMessage): Promise<void> {
    switch (message.type) {
      case 'stage-assignment':
        return this.begin(message);
      case 'stage-norms': {
        const work = this.work;
        if (work?.a.attempt !== message.attempt) return; // an aborted attempt's
        if (message.sumsOfSquares.length !== work.S) {
          this.emit({
            type: 'status',
            text: `step ${message.step}: the relay sent ${message.sumsOfSquares.length} gradient norms for ${work.S} stages`,
          });
          return;
        }
        work.setStageNorms(message.sumsOfSquares);
        return;
      }
      case 'stage-commit': {
        const work = this.work;
        if (work?.a.step !== message.step) return;
        await this.pumping;
        await this.options.engine.commit();
        this.options.held.committed(message.step);
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
        work.abort();
        await this.pumping; // let the GPU finish what it is doing before the weights go back
        await this.options.engine.rollback();
        this.work = null;
        this.emit({ type: 'step', step: message.step, phase: 'aborted', peers: 0 });
        this.emit({ type: 'status', text: `step ${message.step} aborted: ${message.reason}` });
        return;
      }
      default:
        return; // the data-parallel round's messages do not come in a pipeline run
    }
  }

  private async begin(a: StageAssignment): Promise<void> {
    const { engine, network, relay, held } = this.options;
    if (this.work && !this.work.aborted) {
      // The relay moved on (it aborted the step we were in and its abort is behind this message).
      this.work.abort();
      await this.pumping;
      await engine.rollback();
    }
    if (held.stage !== a.stage) await this.openStage(a);
    const work = new StageStep(a, this.peerId);
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
    for (const frame of this.early.take(a.attempt)) work.file(frame);
    this.pump();
  }

  /**
   * Opens the stage the relay seats this peer on. The stage held before goes first: the engine
   * holds one, and a stage this peer is moved to comes with a `stateFrom` to import its weights
   * from (or, before the first commit, is θ_0 as opened).
   */
  private async openStage(a: StageAssignment): Promise<void> {
    const { engine, held } = this.options;
    const before = held.stage;
    if (before !== null) {
      held.dropped();
      await engine.destroy();
      this.emit({
        type: 'status',
        text: `the relay moved this peer from stage ${before + 1} to ${a.stage + 1}`,
      });
    }
    await engine.openStage(a.stage);
    held.opened(a.stage);
    this.emit({ type: 'stage', stage: a.stage, stages: a.stages.length, layers: a.layers });
  }

  /** A frame from a peer: filed under the current step, or kept until its step is assigned. */
  private frame(from: string, bytes: Uint8Array): void {
    const frame = tagFrame(from, bytes);
    if (!frame) return;
    const work = this.work;
    if (!work || frame.attempt > work.a.attempt) {
      this.early.keep(frame);
      return;
    }
    if (frame.attempt !== work.a.attempt) return; // from an aborted attempt of this or an earlier step
    work.file(frame);
    this.pump();
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
      const { engine, network, client } = this.options;
      await syncStage(work, { engine, network, client, peerId: this.peerId, emit: (e) => this.emit(e) });
    }
  }

  /**
   * Before the step's work: a replica named in `stateTo` sends its stage's state (the committed
   * one: nothing of this step has run yet), and a new replica imports the state its `stateFrom`
   * sent. False while that state has not arrived (its arrival pumps again).
   */
  private async handOverState(work: StageStep): Promise<boolean> {
    const { engine, network } = this.options;
    const { stateFrom, stateTo, attempt } = work.a;
    if (stateTo.length > 0 && !work.stateSent) {
      work.stateSent = true;
      const state = await engine.exportState(attempt);
      await Promise.all(stateTo.map((id) => deliver(network, work, id, state)));
    }
    if (stateFrom) {
      const frame = work.tensor('stage-state', stateFrom);
      if (!frame) return false;
      const imported = await engine.importState(attempt, frame);
      if (!imported.ok) {
        this.emit({ type: 'status', text: `the stage's state did not check out: ${imported.error.message}` });
        return false;
      }
      this.options.held.imported(work.a.step);
      this.emit({ type: 'status', text: `fetched stage ${work.stage + 1}'s weights from a replica` });
    }
    work.stateDone = true;
    return true;
  }

  /** Runs the next op of the stage order whose input is here; false when none is. */
  private async nextOperation(work: StageStep): Promise<boolean> {
    const { engine, network } = this.options;
    const step = work.a.step;
    const tag = work.a.attempt;
    const op = nextStageOp(
      {
        stage: work.stage,
        stages: work.S,
        mine: work.mine,
        forwarded: work.forwarded,
        backwarded: work.backwarded,
      },
      (type, m) => work.activations.has(`${type}:${m}`),
    );
    if (!op) return false;
    const m = op.microbatch;
    const frame = work.activations.get(`${op.type}:${m}`);
    const place = work.placeOf(m);
    if (op.type === 'backward') {
      const out = await engine.backward(tag, m, work.isLast ? undefined : frame, place);
      if (!out.ok) return this.refused(work, m, out.error.message);
      work.backwarded.add(m);
      if (out.value) await deliver(network, work, work.peerOf(m, work.stage - 1), out.value);
      return true;
    }
    const out = await engine.forward(
      tag,
      m,
      { tokens: work.tokens ?? undefined, frame: work.isFirst ? undefined : frame },
      place,
    );
    if (!out.ok) return this.refused(work, m, out.error.message);
    work.forwarded.add(m);
    if (out.value.type === 'loss') {
      work.lossSum += out.value.loss;
      this.emit({ type: 'microbatch', step, microbatch: m, loss: out.value.loss, sent: null });
    } else {
      const sent = activationFrameHeader(out.value.bytes)?.codec ?? null;
      this.emit({ type: 'microbatch', step, microbatch: m, loss: null, sent });
      await deliver(network, work, work.peerOf(m, work.stage + 1), out.value.bytes);
    }
    return true;
  }

  /** A neighbour's frame did not decode or fit: drop it; its sender's deadline handles the rest. */
  private refused(work: StageStep, m: number, why: string): boolean {
    work.activations.delete(`forward:${m}`);
    work.activations.delete(`backward:${m}`);
    this.emit({ type: 'status', text: `refused a frame for microbatch ${m}: ${why}` });
    return true;
  }
}
