// The relay's part of a round in bench:byzantine, as the relay is to do it: it counts the frames
// it holds (its own copies), drops a member proven to have sent the peers a different frame,
// runs the same round arithmetic as the peers (protocol/round-update.ts) and commits what it
// computed, after its StateGuard (relay/rounds/state-guard.ts) scored the new state on a fixed
// held-out batch; a refused state rolls the run back to the best kept one. Peers' hash reports
// are logged and decide nothing.

import { modelHash } from '../../../protocol/model-hash.ts';
import type { ParamLayout } from '../../../protocol/param-layout.ts';
import {
  type CountedFrame,
  type FrameExpectation,
  type OuterSettings,
  roundUpdate,
} from '../../../protocol/round-update.ts';
import type { GuardConfig } from '../../../protocol/run-config.ts';
import { sha256Hex } from '../../../protocol/sha256.ts';
import { StateGuard } from '../../../relay/rounds/state-guard.ts';

export interface RunState {
  readonly weights: Float32Array;
  readonly momentum: Float32Array;
  readonly hash: string;
}

/** One member's frame as the relay holds it and as each honest peer received it over the mesh. */
export interface MemberFrames {
  readonly peer: string;
  readonly tokens: number;
  readonly relayCopy: Uint8Array;
  /** The copies honest peers hold (an honest member's own frame needs none). */
  readonly meshCopies: readonly Uint8Array[];
}

export type RoundOutcome =
  | {
      readonly kind: 'committed' | 'rolled-back';
      readonly counted: readonly CountedFrame[];
      /** The aggregate frame every member applies (protocol/aggregate-frame.ts). */
      readonly aggregate: Uint8Array;
      /** Counted members whose frame was refused or that the robust rule left out. */
      readonly unused: readonly string[];
      /** Of those, the ones whose frame was refused (not in the run's format): never credited. */
      readonly refused: readonly string[];
      readonly valLoss: number;
    }
  | { readonly kind: 'aborted'; readonly reason: string };

export interface RelayOptions {
  readonly layout: ParamLayout;
  readonly outer: OuterSettings;
  /** null: no guard (every computed state commits). */
  readonly guard: GuardConfig | null;
  /** Loss of a state on the guard's fixed held-out batch. */
  readonly score: (weights: Float32Array) => Promise<number>;
}

export class SimulatedRelay {
  private guard: StateGuard | null = null;
  private readonly kept = new Map<string, RunState>();
  private current: RunState;
  /** What the last aggregate frame did not carry, as the relay's coordinator keeps it. */
  private residual: Float32Array | null = null;
  /** Members dropped from a round for equivocating, over the whole run. */
  equivocators = 0;
  /** The hash of the state the last round computed, before the guard judged it. */
  computedHash = '';
  /** Hash reports that differ from what the relay committed (ignored). */
  ignoredReports = 0;

  private constructor(
    private readonly options: RelayOptions,
    initial: RunState,
  ) {
    this.current = initial;
  }

  static async start(options: RelayOptions, init: Float32Array): Promise<SimulatedRelay> {
    const momentum = new Float32Array(init.length);
    const initial = { weights: init.slice(), momentum, hash: await modelHash(init, momentum) };
    const relay = new SimulatedRelay(options, initial);
    if (options.guard) {
      const valLoss = await options.score(initial.weights);
      relay.guard = new StateGuard(options.guard.rollbackMargin, options.guard.keepCheckpoints, {
        round: -1,
        modelHash: initial.hash,
        valLoss,
      });
      relay.kept.set(initial.hash, initial);
    }
    return relay;
  }

  /** The committed state: what every honest peer starts the next round from. */
  get state(): RunState {
    return this.current;
  }

  async round(expected: FrameExpectation, members: readonly MemberFrames[]): Promise<RoundOutcome> {
    // The decision names each counted frame's hash; a peer holding a different copy of it
    // proves the author equivocated (both copies carry the author's signature).
    const counted: CountedFrame[] = [];
    for (const member of members) {
      const hash = await sha256Hex(member.relayCopy);
      let equivocated = false;
      for (const copy of member.meshCopies) if ((await sha256Hex(copy)) !== hash) equivocated = true;
      if (equivocated) this.equivocators++;
      else counted.push({ peer: member.peer, tokens: member.tokens, frame: member.relayCopy });
    }
    const { weights, momentum } = this.current;
    const update = roundUpdate(
      weights,
      momentum,
      counted,
      expected,
      this.options.layout,
      this.options.outer,
      this.residual,
    );
    if (!update.ok) return { kind: 'aborted', reason: update.reason };
    const { aggregate } = update;
    const next = {
      weights: update.weights,
      momentum: update.momentum,
      hash: await modelHash(update.weights, update.momentum),
    };
    this.computedHash = next.hash;
    const refused = update.refused.map((r) => r.peer);
    const unused = [...refused, ...update.report.leftOut];
    const guard = this.guard;
    if (!guard) {
      this.current = next;
      this.residual = update.residual;
      return { kind: 'committed', counted, aggregate, unused, refused, valLoss: Number.NaN };
    }
    const valLoss = await this.options.score(next.weights);
    const verdict = guard.judge(valLoss);
    if (verdict.accept) {
      this.keep(next, expected.round, valLoss);
      this.residual = update.residual;
      return { kind: 'committed', counted, aggregate, unused, refused, valLoss };
    }
    const back = this.kept.get(verdict.rollbackTo.modelHash);
    if (!back) throw new Error(`the guard rolls back to ${verdict.rollbackTo.modelHash}, which is not kept`);
    this.keep(back, expected.round, verdict.rollbackTo.valLoss);
    this.residual = null; // as the relay: the carried error goes with the refused state
    return { kind: 'rolled-back', counted, aggregate, unused, refused, valLoss };
  }

  /** A member's report of the hash it computed for the last round: logged, never decisive. */
  report(hash: string): void {
    if (hash !== this.computedHash) this.ignoredReports++;
  }

  private keep(state: RunState, round: number, valLoss: number): void {
    const guard = this.guard as StateGuard;
    this.current = state;
    guard.committed({ round, modelHash: state.hash, valLoss });
    this.kept.set(state.hash, state);
    const live = new Set(guard.states.map((s) => s.modelHash));
    for (const hash of this.kept.keys()) if (!live.has(hash)) this.kept.delete(hash);
  }
}
