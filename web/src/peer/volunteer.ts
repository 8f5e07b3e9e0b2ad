// The volunteer's round loop, the same in a browser tab and in the headless Node volunteer
// (docs/ARCHITECTURE.md, "One training round", from the peer's side):
//
//   resync      hold the committed state: ours already, or in pieces from the members the
//               relay names as holders (the relay for what they do not give)
//   assignment  fetch the assigned tokens, train, compress; upload the frame with its signed
//               claim to the relay (the only copy anyone uses), send a signed manifest
//   decision    gather the round's aggregate frame within the group (aggregate-gather.ts:
//               the pieces this peer owns from the relay, the rest from their owners, each
//               checked against the relay's hash), apply it, report the hash
//   commit      keep the new state if it is the one the relay computed (else resync), persist
//               it, ask for the next round
//   receipt     verify it against the relay's key and keep it
//
// Everything platform-specific comes in as a dependency: the /swarm client, the peer mesh,
// the GPU engine (in-process or behind comlink), the relay's HTTP API and the store.

import type { StepProgress } from '../../../kernels/round/round-engine.ts';
import { isTrainingAborted } from '../../../kernels/round/training-aborted.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { FrameError } from '../../../protocol/frame-errors.ts';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import { AggregateGather } from './aggregate-gather.ts';
import { catchUp, type ResyncState } from './catch-up.ts';
import { isLateFrame, type RelayApi, RelayApiError } from './relay-api.ts';
import { RelayDrivenPeer, type RunMessage } from './relay-driven-peer.ts';
import { StateExchange } from './state-exchange.ts';
import type { SwarmClient } from './swarm-client.ts';

/** What the runtime needs of the peer mesh (web/src/peer/mesh.ts fits). */
export interface FrameNetwork {
  connect(keys: readonly string[]): void;
  /** Stops wanting a link to `key` (it left this peer's group); the link may stay open, idle. */
  release(key: string): void;
  /** How many more peers may be wanted (the mesh caps links per tab); unbounded when absent. */
  readonly wantedRoom?: number;
  send(to: string, message: Uint8Array): Promise<void>;
  onMessage(handler: (from: string, message: Uint8Array) => void): () => void;
  /** A peer announced a message larger than the run allows: its link is closed. */
  onPeerRefused(handler: (key: string, error: FrameError) => void): () => void;
  readonly traffic: { readonly bytesSent: number; readonly bytesReceived: number };
  readonly connectedPeers: readonly string[];
  /** Links, those through TURN, and their median set-up time (the WebRTC mesh has them). */
  readonly linkStats?: { readonly links: number; readonly relayed: number; readonly setupMs: number | null };
}

/** Where a volunteer keeps what must survive a reload or a restart. */
export interface VolunteerStore {
  loadState(runId: string): Promise<{ round: number; hash: string; bytes: Uint8Array } | null>;
  saveState(runId: string, round: number, hash: string, bytes: Uint8Array): Promise<void>;
  /** This volunteer's own optimizer moments and residual (protocol/local-state-file.ts). */
  loadLocal(runId: string): Promise<Uint8Array | null>;
  saveLocal(runId: string, bytes: Uint8Array): Promise<void>;
  /** The own state the latest round started from, kept until the relay may check that round. */
  loadRoundStart(runId: string): Promise<{ round: number; bytes: Uint8Array } | null>;
  saveRoundStart(runId: string, round: number, bytes: Uint8Array): Promise<void>;
  receipts(): Promise<Receipt[]>;
  addReceipt(receipt: Receipt): Promise<void>;
}

export type VolunteerEvent =
  | { readonly type: 'status'; readonly text: string }
  | { readonly type: 'step'; readonly round: number; readonly progress: StepProgress }
  | {
      readonly type: 'round';
      readonly round: number;
      readonly phase: 'training' | 'exchanging' | 'summing' | 'committed' | 'aborted';
      readonly peers: number;
    }
  | { readonly type: 'committed'; readonly round: number; readonly hash: string; readonly trainLoss: number }
  | { readonly type: 'receipt'; readonly receipt: Receipt }
  /** The signed ledger head a commit carried: the page keeps the newest (head-watch.ts). */
  | { readonly type: 'head'; readonly height: number; readonly hash: string }
  | {
      readonly type: 'traffic';
      readonly bytesSent: number;
      readonly bytesReceived: number;
      readonly frameBytes: number;
      readonly denseBytes: number;
      readonly links: number;
      /** Links that go through the relay's TURN server, not directly. */
      readonly relayedLinks: number;
      /** Median time from wanting a peer to an authenticated link; null before any. */
      readonly linkSetupMs: number | null;
    };

export interface VolunteerOptions {
  readonly client: SwarmClient;
  readonly network: FrameNetwork;
  readonly engine: VolunteerEngine;
  readonly relay: RelayApi;
  readonly store: VolunteerStore;
  readonly runId: string;
  /** Reported to the relay: it sizes this peer's share of each round by it. */
  readonly speed: { tokensPerSec: number; uplinkBytesPerSec: number; downlinkBytesPerSec: number };
  readonly adapter: { vendor: string; architecture: string; description: string; isSoftware: boolean };
  readonly paramCount: number;
  /** The largest aggregate frame of the run (aggregate-frame.ts): what one group member may send. */
  readonly maxAggregateBytes?: number;
  readonly onEvent?: (event: VolunteerEvent) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

type Assignment = Extract<RelayMessage, { type: 'assignment' }>;
/** Without the run's bound: 8 MiB, several times the default model's aggregate frame. */
const DEFAULT_MAX_AGGREGATE_BYTES = 8 * 2 ** 20;

export class Volunteer extends RelayDrivenPeer<VolunteerEvent> {
  /** The committed round and hash this volunteer holds. */
  held = { round: -2, hash: '' };
  private readonly gather: AggregateGather;
  /** Serves the committed state's pieces to members catching up, and fetches them when this one is. */
  private readonly exchange: StateExchange;
  /** This peer's group in the current round, itself included, sorted: who passes pieces to whom. */
  private group: readonly string[] = [];
  private own: { round: number; seed: number; frame: Uint8Array; hash: string } | null = null;
  private pending: { round: number; hash: string; loss: number } | null = null;
  /** This peer's own state as its latest round started, for a check of that round. */
  private checkable: { round: number; bytes: Uint8Array } | null = null;
  private paused = false;
  /**
   * Seen as messages arrive (interrupt()): the latest assignment, and per assignment what stops
   * its work once the relay aborts it. By object, not round number: a round aborted by a change
   * of relays is opened again under the same number.
   */
  private arrived: Assignment | null = null;
  private readonly stops = new WeakMap<Assignment, AbortController>();
  /** The assignment being trained. */
  private training: Assignment | null = null;

  private speed: VolunteerOptions['speed'];

  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: VolunteerOptions) {
    super(options);
    this.speed = options.speed;
    this.sleep = options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.exchange = new StateExchange(options.network);
    this.gather = new AggregateGather(
      options.network,
      options.relay,
      { now: options.now ?? Date.now, sleep: this.sleep },
      options.maxAggregateBytes ?? DEFAULT_MAX_AGGREGATE_BYTES,
    );
  }

  /** Restores persisted state, reports capabilities and asks for work. */
  async start(): Promise<void> {
    const { network, store, engine, runId } = this.options;
    const saved = await store.loadState(runId);
    if (saved) {
      const imported = await engine.importState(saved.bytes, saved.hash);
      if (imported.ok) {
        this.held = { round: saved.round, hash: saved.hash };
        await this.exchange.hold(saved.bytes);
        // The inner optimizer and the unsent residual go on where they were, too.
        const local = await store.loadLocal(runId);
        if (local && !(await engine.importLocalState(local)))
          this.emit({
            type: 'status',
            text: 'the saved optimizer state does not fit this run; starting it fresh',
          });
      }
    }
    if (this.held.round === -2) this.held = { round: -1, hash: await engine.stateHash() };
    // Aggregate pieces and state pieces are what a data-parallel mesh carries; anything else
    // (a frame, a claim from an older client) is dropped.
    this.unsubscribe.push(
      network.onMessage(
        (from, message) => this.gather.offer(from, message) || this.exchange.offer(from, message),
      ),
    );
    this.unsubscribe.push(
      network.onPeerRefused((key, error) =>
        this.emit({
          type: 'status',
          text: `refused ${key.slice(0, 8)}…'s message (${error.code}: ${error.message})`,
        }),
      ),
    );
    this.listen();
    this.reportCapabilities();
    this.askForWork();
  }

  private reportCapabilities(): void {
    this.options.client.capabilities({
      adapter: this.options.adapter,
      maxBufferBytes: 1 << 30,
      memoryBytes: 1 << 30,
      ...this.speed,
    });
  }

  /** Pause: finish nothing new; the current round goes on without this peer at its deadline. */
  async setPaused(paused: boolean): Promise<void> {
    this.paused = paused;
    await this.options.engine.setPaused(paused);
    if (!paused) this.askForWork();
  }

  protected failed(error: unknown): void {
    this.emit({ type: 'status', text: `round failed: ${error instanceof Error ? error.message : error}` });
    this.askForWork();
  }

  private askForWork(): void {
    if (!this.paused && !this.stopped) this.options.client.ready(this.held.round, this.held.hash);
  }

  /** A round aborted while this peer trains it: the training stops at its next step. */
  protected override interrupt(message: RunMessage): void {
    if (message.type === 'assignment') {
      this.arrived = message;
      this.stops.set(message, new AbortController());
    }
    if (message.type === 'round-aborted' && this.arrived?.round === message.round)
      this.stopWork(this.arrived, new Error(`round ${message.round} was aborted`));
    // The round committed without this peer (its frame was not in by the decision): what it
    // still trains or sends for that round cannot count, and the committed state is fetched next.
    if (message.type === 'resync' && this.arrived && message.round >= this.arrived.round)
      this.stopWork(
        this.arrived,
        new RelayApiError(
          'ERR_FRAME_LATE',
          `round ${this.arrived.round} was decided before this frame arrived`,
        ),
      );
  }

  /** The connection is gone, and the round with it: no use finishing its training or upload. */
  protected override leaving(): void {
    for (const a of new Set([this.arrived, this.training]))
      if (a) this.stopWork(a, new Error('the connection to the relay closed'));
  }

  /** Voids `a`: its upload (retries included) stops, and its training at the next step. */
  private stopWork(a: Assignment, reason: Error): void {
    this.stops.get(a)?.abort(reason);
    if (this.training === a) void this.options.engine.abortTraining();
  }

  private voided(a: Assignment): boolean {
    return this.stops.get(a)?.signal.aborted ?? false;
  }

  protected async handle(message: RunMessage): Promise<void> {
    switch (message.type) {
      case 'resync':
        return this.resync(message.round, message.modelHash, message.state);
      case 'assignment':
        return this.trainRound(message);
      case 'decision':
        return this.sum(message);
      case 'commit':
        return this.commit(message);
      case 'check':
        return this.answerCheck(message);
      case 'round-aborted':
        await this.options.engine.discard();
        this.emit({ type: 'round', round: message.round, phase: 'aborted', peers: 0 });
        this.askForWork();
        return;
      case 'challenge':
      case 'welcome':
      case 'stage-assignment': // pipeline runs: web/src/peer/pipeline-volunteer.ts
      case 'stage-norms':
      case 'stage-commit':
      case 'stage-abort':
        return;
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  private async resync(round: number, hash: string, state?: ResyncState): Promise<void> {
    const { engine, store, runId } = this.options;
    if ((await engine.stateHash()) !== hash) {
      this.emit({ type: 'status', text: `fetching the committed state of round ${round}` });
      const bytes = await catchUp(
        {
          network: this.options.network,
          relay: this.options.relay,
          exchange: this.exchange,
          self: this.options.client.peerId,
          group: this.group,
          status: (text) => this.emit({ type: 'status', text }),
          now: this.options.now ?? Date.now,
          sleep: this.sleep,
          stopped: () => this.stopped,
        },
        hash,
        state,
      );
      const imported = await engine.importState(bytes, hash);
      if (!imported.ok) throw new Error(`the committed state does not check out: ${imported.message}`);
      await store.saveState(runId, round, hash, bytes);
      await this.exchange.hold(bytes);
      this.emit({ type: 'status', text: `caught up: holding the committed weights of round ${round}` });
    }
    this.held = { round, hash };
    this.askForWork();
  }

  private async trainRound(a: Assignment): Promise<void> {
    const { engine, network, relay, client } = this.options;
    const now = this.options.now ?? Date.now;
    // Training from other weights than the round's would only produce a hash nobody shares.
    if (a.modelHash !== this.held.hash) {
      this.emit({
        type: 'status',
        text: `round ${a.round} starts from a state this peer lacks; catching up`,
      });
      return this.resync(a.round - 1, a.modelHash);
    }
    // Links to the group, kept from round to round while the group stays (the relay keeps
    // groups where it can); a member that left the group is let go.
    const group = a.group.map((m) => m.peer).sort();
    for (const peer of this.group) if (!group.includes(peer)) network.release(peer);
    this.group = group;
    this.gather.expect(a.round);
    network.connect(group.filter((p) => p !== client.peerId));
    this.emit({ type: 'round', round: a.round, phase: 'training', peers: a.group.length });
    // This peer's own state as the round starts, kept until the next round: the relay may ask
    // for it to redo the round, and the manifest commits to its hash before it can ask.
    const start = await engine.exportLocalState(this.held.round);
    this.checkable = { round: a.round, bytes: start };
    // Kept across a reload too: a check that finds the tab reloaded is still answered.
    await this.options.store.saveRoundStart(this.options.runId, a.round, start);
    const stateHash = await sha256Hex(start);
    const tokens = await relay.tokens(a.shard);
    const started = now();
    // Aborted already (its round-aborted waits behind this): train nothing, that one asks for work.
    if (this.voided(a) || this.stopped) return;
    this.training = a;
    let report: { tokens: number; meanLoss: number };
    try {
      report = await engine.train(
        { round: a.round, seed: a.seed, tokens, innerSteps: a.innerSteps, learningRate: a.learningRate },
        (progress) => this.emit({ type: 'step', round: a.round, progress }),
      );
    } catch (error) {
      if (isTrainingAborted(error)) return; // the round-aborted queued behind this asks for work
      throw error;
    } finally {
      this.training = null;
    }
    // Aborted as the last step ended: nothing to send.
    if (this.voided(a)) return;
    // The relay sizes the next rounds by the speed this peer really delivered (throttle and
    // pauses included), so its share and the deadline fit.
    this.speed = { ...this.speed, tokensPerSec: (report.tokens * 1000) / Math.max(1, now() - started) };
    this.reportCapabilities();
    const frame = await engine.contribute({ round: a.round, seed: a.seed });
    const frameHash = await sha256Hex(frame);
    this.own = { round: a.round, seed: a.seed, frame, hash: frameHash };
    this.emit({ type: 'round', round: a.round, phase: 'exchanging', peers: a.group.length });
    const claim = await client.frameClaim(a.round, a.seed, frameHash);
    await relay
      .uploadFrame(a.round, client.peerId, frame, claim, this.stops.get(a)?.signal)
      .catch((error: unknown) =>
        this.emit({
          type: 'status',
          text: isLateFrame(error)
            ? `not counted: ${error.message} (this GPU was slower than the round allowed)`
            : `frame upload failed: ${error instanceof Error ? error.message : error}`,
        }),
      );
    // Aborted while it uploaded: a manifest now would be for a round nobody runs (or for the
    // round opened again under its number, which this peer trains next).
    if (this.voided(a) || this.stopped) return;
    this.emitTraffic(frame.byteLength);
    this.pending = { round: a.round, hash: '', loss: report.meanLoss };
    await client.manifest({
      round: a.round,
      frameHash,
      frameBytes: frame.byteLength,
      stateHash,
      holds: [],
      trainLoss: report.meanLoss,
    });
  }

  /** The relay checks this peer's work of a round: it gets the state the round started from. */
  private async answerCheck(c: Extract<RelayMessage, { type: 'check' }>): Promise<void> {
    const kept =
      this.checkable?.round === c.round
        ? this.checkable
        : await this.options.store.loadRoundStart(this.options.runId);
    if (kept?.round !== c.round) return; // a round this peer no longer holds: it goes unanswered
    this.emit({ type: 'status', text: `the relay checks round ${c.round}: sending its starting state` });
    await this.options.relay
      .uploadLocalState(c.round, this.options.client.peerId, kept.bytes)
      .catch((error: unknown) =>
        this.emit({
          type: 'status',
          text: `check upload failed: ${error instanceof Error ? error.message : error}`,
        }),
      );
  }

  private async sum(d: Extract<RelayMessage, { type: 'decision' }>): Promise<void> {
    const own = this.own;
    if (!own || own.round !== d.round) return;
    const { client } = this.options;
    this.emit({ type: 'round', round: d.round, phase: 'summing', peers: d.countedTotal });
    const gathered = await this.gather.gather(d.round, d.aggregate, this.group, client.peerId);
    for (const liar of gathered.refused)
      this.emit({
        type: 'status',
        text: `${liar.slice(0, 8)}… passed on an aggregate piece that is not the relay's; took it from the relay`,
      });
    this.emitTraffic(own.frame.byteLength);
    const { hash } = await this.options.engine.finish({ round: d.round, seed: own.seed }, gathered.bytes);
    if (this.pending?.round === d.round) this.pending.hash = hash;
    await client.modelHash(d.round, hash);
  }

  private emitTraffic(frameBytes: number): void {
    const { network, paramCount } = this.options;
    this.emit({
      type: 'traffic',
      bytesSent: network.traffic.bytesSent,
      bytesReceived: network.traffic.bytesReceived,
      frameBytes,
      denseBytes: paramCount * 4,
      links: network.linkStats?.links ?? network.connectedPeers.length,
      relayedLinks: network.linkStats?.relayed ?? 0,
      linkSetupMs: network.linkStats?.setupMs ?? null,
    });
  }

  private async commit(c: Extract<RelayMessage, { type: 'commit' }>): Promise<void> {
    const { engine, store, runId } = this.options;
    const pending = this.pending;
    const kept = pending?.round === c.round && (await engine.commit(c.round, c.modelHash));
    if (!pending || !kept) return this.resync(c.round, c.modelHash);
    this.held = { round: c.round, hash: c.modelHash };
    const bytes = await engine.exportState();
    await store.saveState(runId, c.round, c.modelHash, bytes);
    await this.exchange.hold(bytes);
    await store.saveLocal(runId, await engine.exportLocalState(c.round));
    this.emit({ type: 'committed', round: c.round, hash: c.modelHash, trainLoss: pending.loss });
    if (c.head) this.emit({ type: 'head', height: c.head.height, hash: c.head.hash });
    this.emit({ type: 'round', round: c.round, phase: 'committed', peers: 0 });
    this.askForWork();
  }
}
