// A volunteer engine with no GPU for bench:scale: it "trains" by waiting nothing and sends a
// real frame in the run's format (random signs, random block scales: the size and shape of the
// default model's compressed pseudo-gradient), and it applies the round's real aggregate frame
// with the protocol's own arithmetic. A thousand volunteers each holding the default model's
// weights and momentum would need ~7 GB; they share them instead through one memo keyed by
// (state, aggregate): every honest volunteer computes the same state from the same bytes, so
// computing it once per round is exactly what each of them would compute.
import type { StepProgress } from '../../../kernels/round/round-engine.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { initParams } from '../../../protocol/init-params.ts';
import { encodeLocalState } from '../../../protocol/local-state-file.ts';
import { modelHash } from '../../../protocol/model-hash.ts';
import { type ParamLayout, paramLayout } from '../../../protocol/param-layout.ts';
import { packedWordCount } from '../../../protocol/quantize.ts';
import { countCandidates, keepMaxFor } from '../../../protocol/random-k.ts';
import { decodeRoundState, encodeRoundState, type RoundState } from '../../../protocol/round-state-file.ts';
import { applyAggregate } from '../../../protocol/round-update.ts';
import type { RunConfig } from '../../../protocol/run-config.ts';
import { encodeTensorFrame } from '../../../protocol/tensor-frame.ts';

interface Held {
  readonly hash: string;
  readonly state: RoundState;
}

/** What every synthetic volunteer of one bench shares: the states, by hash, and the memo. */
export class SharedStates {
  readonly layout: ParamLayout;
  readonly candidates = new Map<number, number>();
  private readonly states = new Map<string, RoundState>();
  private readonly applied = new Map<string, Promise<Held | null>>();
  initial!: Held;

  constructor(readonly config: RunConfig) {
    this.layout = paramLayout(config.model);
  }

  async init(): Promise<void> {
    const state = {
      weights: initParams(this.config.model, this.config.seed),
      momentum: new Float32Array(this.layout.totalFloats),
    };
    this.initial = { hash: await modelHash(state.weights, state.momentum), state };
    this.states.set(this.initial.hash, state);
  }

  /** The state file of the newest state held. */
  async checkpointBytes(): Promise<Uint8Array> {
    const state = [...this.states.values()].at(-1) as RoundState;
    return encodeRoundState(this.config.model, state);
  }

  get(hash: string): RoundState | undefined {
    return this.states.get(hash);
  }

  put(hash: string, state: RoundState): void {
    this.states.set(hash, state);
    // Only the newest few: a bench keeps memory flat over its rounds.
    for (const old of [...this.states.keys()].slice(0, -4)) this.states.delete(old);
  }

  /** The state `from` + `aggregate` gives, computed once for everyone. */
  apply(from: Held, work: { round: number; seed: number }, aggregate: Uint8Array): Promise<Held | null> {
    const key = `${from.hash}:${work.round}:${work.seed}:${aggregate.length}`;
    let result = this.applied.get(key);
    if (!result) {
      result = (async () => {
        const applied = applyAggregate(
          from.state.weights,
          from.state.momentum,
          aggregate,
          { ...work, totalFloats: this.layout.totalFloats, compression: this.config.round.compression },
          this.layout,
          this.config.round,
        );
        if (!applied.ok) return null;
        const hash = await modelHash(applied.weights, applied.momentum);
        const state = { weights: applied.weights, momentum: applied.momentum };
        return { hash, state };
      })();
      this.applied.set(key, result);
      for (const old of [...this.applied.keys()].slice(0, -8)) this.applied.delete(old);
    }
    return result;
  }

  /** A frame in the run's format: every candidate, random codes, scales of a trained frame. */
  frame(work: { round: number; seed: number }, random: () => number): Uint8Array {
    const { compression } = this.config.round;
    const n = this.layout.totalFloats;
    const keepMax = keepMaxFor(compression.randomK);
    let candidateCount = this.candidates.get(work.seed);
    if (candidateCount === undefined) {
      candidateCount = countCandidates(work.seed, keepMax, 0, n);
      this.candidates.clear();
      this.candidates.set(work.seed, candidateCount);
    }
    const { bits, blockSize } = compression;
    const blocks = Math.ceil(candidateCount / blockSize);
    const words = new Uint32Array(packedWordCount(candidateCount, bits, blockSize));
    // Blocks start on words, so value j's code sits at bit j × bits; past the last value the
    // padding stays zero, as the frame's one encoding requires.
    const usedBits = candidateCount * bits;
    const fullWords = Math.floor(usedBits / 32);
    for (let i = 0; i < fullWords; i++) words[i] = (random() * 2 ** 32) >>> 0;
    if (usedBits % 32 > 0)
      words[fullWords] = ((random() * 2 ** 32) >>> 0) & ((2 ** (usedBits % 32) - 1) >>> 0);
    const scales = Float32Array.from({ length: blocks }, () => 1e-4 * (0.5 + random()));
    return encodeTensorFrame({
      kind: 'pseudo-gradient',
      round: work.round,
      seed: work.seed,
      keepMax,
      paramOffset: 0,
      paramCount: n,
      candidateCount,
      bits,
      blockSize,
      ordinals: null,
      valueCount: candidateCount,
      scales,
      words,
    });
  }
}

export class SyntheticEngine implements VolunteerEngine {
  private held: Held;
  private pending: { round: number; next: Held } | null = null;

  constructor(
    private readonly shared: SharedStates,
    private readonly random: () => number,
  ) {
    this.held = shared.initial;
  }

  async stateHash(): Promise<string> {
    return this.held.hash;
  }

  async exportState(): Promise<Uint8Array> {
    return encodeRoundState(this.shared.config.model, this.held.state);
  }

  async importState(bytes: Uint8Array, expectedHash: string) {
    // A state another synthetic volunteer holds is taken as it is (the bench shares states).
    const known = this.shared.get(expectedHash);
    if (known) {
      this.held = { hash: expectedHash, state: known };
      return { ok: true as const };
    }
    const decoded = await decodeRoundState(this.shared.config.model, bytes, expectedHash);
    if (!decoded.ok) return { ok: false as const, message: decoded.message };
    this.shared.put(expectedHash, decoded.state);
    this.held = { hash: expectedHash, state: decoded.state };
    return { ok: true as const };
  }

  async train(work: { innerSteps: number }, _onStep?: (progress: StepProgress) => void) {
    const { batchSize, seqLen } = this.shared.config.inner;
    return { tokens: work.innerSteps * batchSize * seqLen, meanLoss: 3 };
  }

  async contribute(work: { round: number; seed: number }): Promise<Uint8Array> {
    return this.shared.frame(work, this.random);
  }

  async finish(work: { round: number; seed: number }, aggregate: Uint8Array) {
    const next = await this.shared.apply(this.held, work, aggregate);
    if (!next) throw new Error(`round ${work.round}: the aggregate does not apply`);
    this.pending = { round: work.round, next };
    return { hash: next.hash };
  }

  async exportLocalState(round: number): Promise<Uint8Array> {
    const zeros = new Float32Array(0);
    return encodeLocalState({ m: zeros, v: zeros, residual: zeros, step: 0, round });
  }

  async importLocalState(): Promise<boolean> {
    return true;
  }

  async commit(round: number, hash: string): Promise<boolean> {
    const pending = this.pending;
    this.pending = null;
    if (pending?.round !== round || pending.next.hash !== hash) return false;
    this.held = pending.next;
    this.shared.put(hash, pending.next.state);
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
