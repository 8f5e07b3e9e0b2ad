// One optimizer step's work on one pipeline volunteer: the relay's assignment, which of the
// step's microbatches the route gives this peer, what it has run, and the frames its peers sent
// for this attempt. Waits on it are woken by the frames themselves (file()) and by abort(), never
// by polling.
import type { MicrobatchPlace } from '../../../kernels/pipeline/stage-boundary.ts';
import type { RelayMessage } from '../../../protocol/swarm-messages.ts';
import type { TensorKind } from '../../../protocol/tensor-frame.ts';
import type { TaggedFrame } from './stage-frames.ts';

export type StageAssignment = Extract<RelayMessage, { type: 'stage-assignment' }>;

export class StageStep {
  readonly stage: number;
  readonly S: number;
  /** Microbatches the route gives this peer on its stage, in order. */
  readonly mine: number[];
  readonly forwarded = new Set<number>();
  readonly backwarded = new Set<number>();
  /** Activation frames by `${direction}:${microbatch}`. */
  readonly activations = new Map<string, Uint8Array>();
  /** End-of-step tensor frames by `${kind}:${sender}`. */
  private readonly tensors = new Map<string, Uint8Array>();
  tokens: Uint32Array | null = null;
  /** Every stage's squared gradient norm, in stage order, once the relay has shared them. */
  stageNorms: readonly number[] | null = null;
  lossSum = 0;
  phase: 'microbatches' | 'sync' | 'reported' = 'microbatches';
  /** The stage's state went to the new replicas (stateTo) and came from the source (stateFrom). */
  stateDone = false;
  stateSent = false;
  private abortedFlag = false;
  /** Called on every filed frame and on abort: the waits of until() look again. */
  private readonly wakers = new Set<() => void>();

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

  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** The relay aborted the step, moved on, or this peer stopped: every wait ends. */
  abort(): void {
    this.abortedFlag = true;
    this.recheck();
  }

  /** The replica that runs microbatch m on stage s. */
  peerOf(m: number, s: number): string {
    return this.a.stages[s]?.[this.a.routes[m]?.[s] ?? -1] ?? '';
  }

  /** Microbatch m's data and its neighbours on the route: what its frames are checked against. */
  placeOf(m: number): MicrobatchPlace {
    return {
      shardStart: this.a.shard.start,
      below: this.isFirst ? null : this.peerOf(m, this.stage - 1),
      above: this.isLast ? null : this.peerOf(m, this.stage + 1),
    };
  }

  /** Files a frame of this attempt: an activation under its microbatch, a tensor under its sender. */
  file({ from, bytes, activation, kind }: TaggedFrame): void {
    if (activation) {
      if (!this.mine.includes(activation.microbatch)) return;
      // Only the replica the route names for this microbatch may feed it.
      const expected =
        activation.direction === 'forward'
          ? this.peerOf(activation.microbatch, this.stage - 1)
          : this.peerOf(activation.microbatch, this.stage + 1);
      if (from === expected) this.activations.set(`${activation.direction}:${activation.microbatch}`, bytes);
    } else if (kind) this.setTensor(kind, from, bytes);
    this.recheck();
  }

  /** The relay's `stage-norms` for this attempt: the wait for the clip ends. */
  setStageNorms(sumsOfSquares: readonly number[]): void {
    this.stageNorms = sumsOfSquares;
    this.recheck();
  }

  setTensor(kind: TensorKind, from: string, bytes: Uint8Array): void {
    this.tensors.set(`${kind}:${from}`, bytes);
  }

  tensor(kind: TensorKind, from: string): Uint8Array | undefined {
    return this.tensors.get(`${kind}:${from}`);
  }

  /** Resolves true once `ready` holds, false if the step ends first. */
  until(ready: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.abortedFlag) resolve(false);
        else if (ready()) resolve(true);
        else return;
        this.wakers.delete(check);
      };
      this.wakers.add(check);
      check();
    });
  }

  /** Something a wait may be waiting on changed (a frame, a link): until()'s conditions look again. */
  recheck(): void {
    for (const check of [...this.wakers]) check();
  }
}
