// An attacking volunteer for end-to-end tests, built on the project's own peer runtime: the
// real Volunteer, SwarmClient, mesh (real WebRTC) and relay API, with a GPU-less engine that
// crafts its frames on the CPU instead of training. What a stranger with our source could run:
//
//   sign-flip   sends −k × the direction the model moved last round (θ_r − θ_{r−1}), framed in
//               the run's format so the relay cannot refuse it for its shape
//   zero        sends nothing useful (an all-zero frame) and, with `lie`, reports a crafted
//               model hash: three of these are "colluding identities"
//   equivocate  uploads a harmless frame to the relay but sends the group, over the mesh, a
//               −20× frame with a valid signed claim, hoping they sum that one
//   copy        a free-rider: sends as its own the first frame another member sends it over the
//               mesh this round (a real pseudo-gradient, only not its work)
// Every attacker claims to be a billion tokens a second fast, and answers the relay's checks
// with a plausible starting state (zero moments and residual), as a careful cheater would.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoundWork, StepProgress } from '../../kernels/round/round-engine.ts';
import type { VolunteerEngine } from '../../kernels/round/volunteer-engine.ts';
import { hasMagic, TENSOR_FRAME_MAGIC } from '../../protocol/frame-magics.ts';
import { initParams } from '../../protocol/init-params.ts';
import { encodeLocalState } from '../../protocol/local-state-file.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import { decodeRoundState, encodeRoundState, type RoundState } from '../../protocol/round-state-file.ts';
import { applyAggregate } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { frameClaimMessage } from '../../protocol/swarm-signing.ts';
import { frameRound } from '../../protocol/tensor-frame.ts';
import { type NodeLink, startHeadless } from '../../web/node/node-connection.ts';
import type { FrameNetwork, Volunteer } from '../../web/src/peer/volunteer.ts';
import { Volunteer as VolunteerClass } from '../../web/src/peer/volunteer.ts';
import { cpuFrame } from './cpu-frame.ts';
import { encodeFrameClaim } from './mesh-frame-claim.ts';
import { nodeContext } from './node-context.ts';

export type Attack =
  | { readonly kind: 'sign-flip'; readonly scale: number }
  | { readonly kind: 'zero'; readonly lie: boolean }
  | { readonly kind: 'equivocate' }
  | { readonly kind: 'copy' };

export interface AttackingVolunteer {
  readonly peerId: string;
  readonly volunteer: Volunteer;
  stop(): Promise<void>;
}

/** Joins the run at `relay` as an attacker. */
export async function startAttackingVolunteer(
  relay: string,
  name: string,
  attack: Attack,
): Promise<AttackingVolunteer> {
  const started = await startHeadless(
    { relay, name, stateDir: await mkdtemp(join(tmpdir(), `potluck-${name}-`)), ctx: await nodeContext() },
    undefined,
    false,
    async (link) => {
      const engine = new CraftingEngine(link.config, attack);
      return {
        volunteerOn: (connection) =>
          new VolunteerClass({
            client:
              attack.kind === 'zero' && attack.lie ? withCraftedHashes(connection.client) : connection.client,
            network:
              attack.kind === 'equivocate'
                ? new EquivocatingNetwork(connection, engine)
                : attack.kind === 'copy'
                  ? new CopyingNetwork(connection.mesh, engine)
                  : connection.mesh,
            relay: connection.relay,
            engine,
            store: connection.store,
            runId: connection.client.runId,
            speed: { tokensPerSec: 1e9, uplinkBytesPerSec: 1e9, downlinkBytesPerSec: 1e9 }, // lies, all
            adapter: { vendor: 'attacker', architecture: 'none', description: name, isSoftware: true },
            paramCount: paramLayout(link.config.model).paramCount,
          }),
        abandon: () => engine.discard(),
        release: async () => undefined,
      };
    },
  );
  return { peerId: started.peerId, volunteer: started.volunteer, stop: started.stop };
}

/** The relay's client, but every model hash it reports is made up. */
function withCraftedHashes(client: NodeLink['client']): NodeLink['client'] {
  const crafted = Object.create(client) as NodeLink['client'];
  crafted.modelHash = (round: number) => client.modelHash(round, 'c0ffee'.repeat(10).padEnd(64, '0'));
  return crafted;
}

/** A VolunteerEngine with no GPU: the state on the CPU, frames crafted rather than trained. */
class CraftingEngine implements VolunteerEngine {
  private state: RoundState;
  private previous: RoundState | null = null;
  private pending: { round: number; hash: string; state: RoundState } | null = null;
  private readonly layout;
  /** Where equivocation sends the group another frame than the uploaded one. */
  onMeshFrame: ((frame: { round: number; seed: number; bytes: Uint8Array }) => Promise<void>) | null = null;
  /** Frames other members sent this peer, by round: what a copier passes off as its own. */
  readonly overheard = new Map<number, Uint8Array>();

  constructor(
    private readonly config: RunConfig,
    private readonly attack: Attack,
  ) {
    this.layout = paramLayout(config.model);
    this.state = {
      weights: initParams(config.model, config.seed),
      momentum: new Float32Array(this.layout.totalFloats),
    };
  }

  stateHash(): Promise<string> {
    return modelHash(this.state.weights, this.state.momentum);
  }

  async exportState(): Promise<Uint8Array> {
    return encodeRoundState(this.config.model, this.state);
  }

  async importState(bytes: Uint8Array, expectedHash: string) {
    const decoded = await decodeRoundState(this.config.model, bytes, expectedHash);
    if (!decoded.ok) return { ok: false as const, message: decoded.message };
    this.previous = this.state;
    this.state = decoded.state;
    return { ok: true as const };
  }

  async train(work: RoundWork, _onStep?: (progress: StepProgress) => void) {
    const { batchSize, seqLen } = this.config.inner;
    return { tokens: work.innerSteps * batchSize * seqLen, meanLoss: 1 }; // no work, a fine loss
  }

  /** −scale × the last committed step: the direction honest peers are pushing the model in. */
  private flipped(scale: number): Float32Array {
    const n = this.layout.totalFloats;
    const values = new Float32Array(n);
    if (!this.previous) return values.fill(1e-3 * scale);
    for (let i = 0; i < n; i++)
      values[i] = -scale * ((this.state.weights[i] as number) - (this.previous.weights[i] as number));
    return values;
  }

  async contribute(work: { round: number; seed: number }): Promise<Uint8Array> {
    const { compression } = this.config.round;
    const frame = (values: Float32Array) => cpuFrame(values, compression, work.round, work.seed);
    switch (this.attack.kind) {
      case 'sign-flip':
        return frame(this.flipped(this.attack.scale));
      case 'zero':
        return frame(new Float32Array(this.layout.totalFloats));
      case 'equivocate':
        await this.onMeshFrame?.({ round: work.round, seed: work.seed, bytes: frame(this.flipped(20)) });
        return frame(new Float32Array(this.layout.totalFloats));
      case 'copy':
        // Honest members send their frames to the relay only: there is nothing to overhear, and
        // after a short wait the copier sends what it has, nothing.
        for (let wait = 0; wait < 60 && !this.overheard.has(work.round); wait++)
          await new Promise((resolve) => setTimeout(resolve, 50));
        return this.overheard.get(work.round) ?? frame(new Float32Array(this.layout.totalFloats));
    }
  }

  async finish(work: { round: number; seed: number }, aggregate: Uint8Array) {
    const update = applyAggregate(
      this.state.weights,
      this.state.momentum,
      aggregate,
      { ...work, totalFloats: this.layout.totalFloats, compression: this.config.round.compression },
      this.layout,
      this.config.round,
    );
    if (!update.ok) throw new Error(update.reason);
    const hash = await modelHash(update.weights, update.momentum);
    this.pending = { round: work.round, hash, state: update };
    return { hash };
  }

  async exportLocalState(round: number): Promise<Uint8Array> {
    const zeros = new Float32Array(this.layout.totalFloats);
    return encodeLocalState({ m: zeros, v: zeros, residual: zeros, step: 0, round });
  }

  async importLocalState(): Promise<boolean> {
    return true;
  }

  async commit(round: number, hash: string): Promise<boolean> {
    const pending = this.pending;
    this.pending = null;
    if (pending?.round !== round || pending.hash !== hash) return false;
    this.previous = this.state;
    this.state = pending.state;
    return true;
  }

  async discard(): Promise<void> {
    this.pending = null;
  }

  async abortTraining(): Promise<void> {} // train() returns at once: nothing to stop
  async setDutyCycle(): Promise<void> {}
  async setPaused(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** The real mesh, passed through: what an attacking network changes, it overrides. */
class ForwardingNetwork implements FrameNetwork {
  constructor(protected readonly mesh: FrameNetwork) {}

  connect(keys: readonly string[]): void {
    this.mesh.connect(keys);
  }

  release(key: string): void {
    this.mesh.release(key);
  }

  get wantedRoom() {
    return this.mesh.wantedRoom;
  }

  send(to: string, message: Uint8Array): Promise<void> {
    return this.mesh.send(to, message);
  }

  onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    return this.mesh.onMessage(handler);
  }

  onPeerRefused(handler: Parameters<FrameNetwork['onPeerRefused']>[0]): () => void {
    return this.mesh.onPeerRefused(handler);
  }

  get traffic() {
    return this.mesh.traffic;
  }

  get connectedPeers() {
    return this.mesh.connectedPeers;
  }
}

/**
 * The real mesh, and the group gets another frame than the uploaded one, with a claim signed
 * for it (the equivocation that mattered while members exchanged frames over the mesh), and the
 * relay gets both frames.
 */
class EquivocatingNetwork extends ForwardingNetwork {
  private group: readonly string[] = [];

  constructor(
    private readonly link: NodeLink,
    engine: CraftingEngine,
  ) {
    super(link.mesh);
    engine.onMeshFrame = (frame) => this.sendToGroup(frame);
  }

  override connect(keys: readonly string[]): void {
    this.group = keys;
    super.connect(keys);
  }

  private async sendToGroup(swap: { round: number; seed: number; bytes: Uint8Array }): Promise<void> {
    const frameHash = await sha256Hex(swap.bytes);
    const signature = await this.link.identity.sign(
      frameClaimMessage(this.link.client.runId, swap.round, swap.seed, frameHash),
    );
    const claim = encodeFrameClaim({ round: swap.round, seed: swap.seed, frameHash, signature });
    for (const to of this.group) {
      await this.mesh.send(to, swap.bytes).catch(() => undefined);
      await this.mesh.send(to, claim).catch(() => undefined);
    }
    // Honest members take no frame over the mesh, so the copies above change nothing. What is
    // left to an equivocator is the relay: this frame uploaded too, beside the one the runtime
    // uploads next, each with its signed claim.
    await this.link.relay
      .uploadFrame(swap.round, this.link.client.peerId, swap.bytes, signature)
      .catch(() => undefined);
  }
}

/** The real mesh; frames other members send are noted for the engine to copy. */
class CopyingNetwork extends ForwardingNetwork {
  constructor(
    mesh: FrameNetwork,
    private readonly engine: CraftingEngine,
  ) {
    super(mesh);
  }

  override onMessage(handler: (from: string, message: Uint8Array) => void): () => void {
    return this.mesh.onMessage((from, message) => {
      const round = hasMagic(message, TENSOR_FRAME_MAGIC) ? frameRound(message) : null;
      if (round !== null && !this.engine.overheard.has(round)) this.engine.overheard.set(round, message);
      handler(from, message);
    });
  }
}
