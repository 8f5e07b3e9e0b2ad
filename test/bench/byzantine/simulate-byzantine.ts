// One bench:byzantine scenario: P members, the first P − f honest RoundPeers, the last f
// attackers, for R rounds. Every frame crosses an in-memory mesh (the real chunking); the
// relay (simulated-relay.ts) decides and commits; every honest peer starts the next round
// from what the relay committed, and the first honest peer's own finish() must land on the
// relay's hash. The relay sizes shares from measured speed (a median share on probation), weighs
// contributions on probation less, and credits and checks each committed round (credit-book.ts).
//
// Honest frames depend only on the states the honest peers started each round from, so they
// are cached under that chain of model hashes: a scenario whose chain matches one already run
// (an attack whose frames are all refused, an equivocator who is dropped, a row that equals
// another) replays the cached frames without training, and trains only when the chain leaves
// what is cached.
import type { ParamLayout } from '../../../protocol/param-layout.ts';
import { deriveSeed } from '../../../protocol/random-k.ts';
import { createRng } from '../../../protocol/rng.ts';
import type { FrameExpectation } from '../../../protocol/round-update.ts';
import {
  type GuardConfig,
  innerLearningRate,
  type RoundConfig,
  type RunConfig,
} from '../../../protocol/run-config.ts';
import { sizeRound } from '../../../relay/rounds/sizing.ts';
import type { WorkVerdict } from '../../../relay/rounds/work-check.ts';
import { type Attack, RoundView } from './attacks.ts';
import { CreditBook, type CreditedMember, type CreditTotals, VerdictNotCached } from './credit-book.ts';
import { Mesh } from './frame-mesh.ts';
import { type HonestPeer, type HonestSwarm, peerId } from './honest-swarm.ts';
import { type RunState, SimulatedRelay } from './simulated-relay.ts';

export interface Scenario {
  readonly peers: number;
  readonly attackers: number;
  /** null: the attackers are absent (the honest peers alone). */
  readonly attack: Attack | null;
  readonly round: RoundConfig;
  readonly guard: GuardConfig | null;
}

export interface ScenarioSetup {
  readonly honest: HonestSwarm;
  /** The run as the relay serves it (model, inner optimizer, schedule, verification). */
  readonly run: RunConfig;
  readonly layout: ParamLayout;
  readonly rounds: number;
  readonly seed: number;
  /** The training split; member slot p's ranges come from its p-th cut of `slots`. */
  readonly trainTokens: Uint16Array;
  readonly slots: number;
  readonly init: Float32Array;
  readonly score: (weights: Float32Array) => Promise<number>;
  /** Honest frames by chain of round-start hashes, shared by every scenario of a run. */
  readonly cache: Map<string, readonly Uint8Array[]>;
  /** Work-check verdicts (credit-book.ts), shared likewise. */
  readonly verdicts: Map<string, WorkVerdict>;
  readonly onRound?: (line: string) => void;
}

export interface ScenarioResult {
  readonly state: RunState;
  readonly rolledBack: number;
  readonly aborted: number;
  /** Every round's honest frames came from the cache (no peer trained). */
  readonly replayed: boolean;
  readonly equivocators: number;
  readonly ignoredReports: number;
  readonly credit: CreditTotals;
}

export async function simulateScenario(scenario: Scenario, setup: ScenarioSetup): Promise<ScenarioResult> {
  const replayed = await play(scenario, setup, null);
  if (replayed) return replayed;
  const trained = await play(
    scenario,
    setup,
    await setup.honest.fresh(honestCount(scenario), scenario.round),
  );
  if (!trained) throw new Error('a scenario with trained peers always finishes');
  return trained;
}

function honestCount(s: Scenario): number {
  return s.peers - s.attackers;
}

/** `trainers` null: cached frames only, null back as soon as the cache lacks a round. */
async function play(
  scenario: Scenario,
  setup: ScenarioSetup,
  trainers: readonly HonestPeer[] | null,
): Promise<ScenarioResult | null> {
  const { round: roundConfig, attack } = scenario;
  const { run } = setup;
  const honest = honestCount(scenario);
  const attackers = attack ? scenario.attackers : 0;
  const relay = await SimulatedRelay.start(
    { layout: setup.layout, outer: roundConfig, guard: scenario.guard, score: setup.score },
    setup.init,
  );
  const book = new CreditBook({
    run,
    seed: setup.seed,
    totalFloats: setup.init.length,
    trainTokens: setup.trainTokens,
    verdicts: setup.verdicts,
  });
  const mesh = new Mesh([...Array.from({ length: honest + attackers }, (_, p) => peerId(p)), RELAY]);
  const honestIds = Array.from({ length: honest }, (_, p) => peerId(p));
  const attackerIds = Array.from({ length: attackers }, (_, a) => peerId(honest + a));
  const slotOf = new Map([...honestIds, ...attackerIds].map((id, p) => [id, p]));
  const { batchSize: B, seqLen: T } = run.inner;
  const tokensPerStep = B * T;
  const ranges = new SlotRanges(
    setup,
    tokensPerStep * run.round.innerSteps * run.schedule.maxInnerStepsFactor + 1,
  );

  let chain = `${honest} honest`;
  let previous: { frames: readonly Uint8Array[]; expected: FrameExpectation } | null = null;
  let rolledBack = 0;
  let aborted = 0;
  for (let r = 0; r < setup.rounds; r++) {
    // The relay sizes shares from what it measured (arrival), a median share while on probation.
    const measured = (id: string) => (attackerIds.includes(id) && attack?.uploadsAtOnce ? INSTANT : 1);
    const sizing = sizeRound(
      [...honestIds, ...attackerIds].map((id) => ({
        peer: id,
        tokensPerSec: book.onProbation(id) ? 0 : measured(id),
        uplinkBytesPerSec: 0,
      })),
      { ...run.schedule, innerSteps: run.round.innerSteps, tokensPerStep, minMembers: run.schedule.minPeers },
    );
    const steps = new Map(sizing.shares.map((s) => [s.peer, s.innerSteps]));
    const stepsOf = (id: string) => steps.get(id) ?? 0;
    const learningRate = innerLearningRate(run, r);
    chain += ` ${relay.state.hash}:${honestIds.map(stepsOf).join(',')}`;
    const expected: FrameExpectation = {
      round: r,
      seed: deriveSeed(setup.seed, r),
      totalFloats: setup.init.length,
      compression: roundConfig.compression,
    };
    const starts = trainers ? await Promise.all(trainers.map((t) => t.startState(r))) : null;
    const frames = trainers
      ? await honestFrames(trainers, expected, (p) => ({
          tokens: ranges.tokens(p, r, stepsOf(peerId(p))),
          innerSteps: stepsOf(peerId(p)),
          learningRate,
        }))
      : setup.cache.get(chain);
    if (!frames) return null;
    setup.cache.set(chain, frames);

    // Everyone sends: honest peers the same frame to all, attackers what they crafted.
    for (const [h, id] of honestIds.entries())
      for (const to of mesh.ids) if (to !== id) await mesh.send(id, to, frames[h] as Uint8Array);
    if (attack) {
      const view = new RoundView(expected, frames, previous, scenario.peers, attackers);
      for (const [a, id] of attackerIds.entries()) {
        const crafted = attack.craft(view, a, createRng(deriveSeed(setup.seed ^ ATTACKER_SALT, r * 64 + a)));
        await mesh.send(id, RELAY, crafted.relay);
        for (const to of honestIds) await mesh.send(id, to, crafted.mesh);
      }
    }
    const seated = [...honestIds, ...attackerIds].filter((id) => stepsOf(id) > 0);
    const members = seated.map((id) => ({
      peer: id,
      tokens: book.weight(id, stepsOf(id) * tokensPerStep),
      relayCopy: mesh.held(RELAY, id),
      meshCopies: honestIds.filter((h) => h !== id).map((h) => mesh.held(h, id)),
    }));
    const before = relay.state;
    const outcome = await relay.round(expected, members);
    mesh.clear();

    if (outcome.kind === 'aborted') {
      aborted++;
      for (const t of trainers ?? []) t.peer.discard();
      setup.onRound?.(`round ${r + 1}/${setup.rounds}: aborted (${outcome.reason})`);
    } else {
      if (outcome.kind === 'rolled-back') rolledBack++;
      const first = trainers?.[0]?.peer;
      const own = first
        ? (await first.finish({ round: r, seed: expected.seed }, outcome.aggregate)).hash
        : relay.computedHash;
      if (own !== relay.computedHash)
        throw new Error(`round ${r}: ${first?.id} computed ${own}, the relay ${relay.computedHash}`);
      relay.report(own);
      if (attack?.forgesReports) for (const _ of attackerIds) relay.report(FORGED_HASH);
      for (const t of trainers ?? []) t.peer.adopt(relay.state.weights, relay.state.momentum);
      // A rolled-back round commits the older state with no credits, as the relay's does.
      if (outcome.kind === 'committed') {
        const credited: CreditedMember[] = outcome.counted
          .filter((c) => !outcome.refused.includes(c.peer))
          .map((c) => {
            const p = slotOf.get(c.peer) as number;
            const innerSteps = stepsOf(c.peer);
            return {
              slot: c.peer,
              role: p < honest ? 'honest' : 'attacker',
              noiseStream: p,
              tokens: innerSteps * tokensPerStep,
              innerSteps,
              range: ranges.range(p, r, innerSteps),
              frame: c.frame,
              start: starts?.[p] ?? null,
            };
          });
        try {
          await book.committed(expected, before.weights, before.hash, credited, chain);
        } catch (error) {
          if (error instanceof VerdictNotCached && !trainers) return null;
          throw error;
        }
      }
      const unused = outcome.unused.length > 0 ? `, not used: ${outcome.unused.join(' ')}` : '';
      setup.onRound?.(
        `round ${r + 1}/${setup.rounds}: ${outcome.kind} (${outcome.counted.length} counted${unused}, guard loss ${outcome.valLoss.toFixed(4)})${trainers ? '' : ' [cached frames]'}`,
      );
    }
    previous = { frames, expected };
  }
  return {
    state: relay.state,
    rolledBack,
    aborted,
    replayed: trainers === null,
    equivocators: relay.equivocators,
    ignoredReports: relay.ignoredReports,
    credit: book.totals(),
  };
}

const RELAY = 'relay';
const ATTACKER_SALT = 0xbad5eed;
const FORGED_HASH = 'f'.repeat(64);
/** Tokens per second the relay measures for a member that uploads the moment a round opens. */
const INSTANT = 1e6;

/**
 * The token ranges the relay assigns: member slot p trains round r on consecutive tokens of
 * the p-th cut of the training split, so no two members (and no two rounds) share a window.
 */
class SlotRanges {
  private readonly cut: number;

  constructor(
    private readonly setup: ScenarioSetup,
    private readonly longest: number,
  ) {
    this.cut = Math.floor(setup.trainTokens.length / setup.slots);
    if (this.cut < 2 * longest)
      throw new RangeError(`the training split is too small for ${setup.slots} members`);
  }

  range(p: number, r: number, steps: number): { start: number; end: number } {
    const { batchSize: B, seqLen: T } = this.setup.run.inner;
    const start = p * this.cut + ((r * this.longest) % (this.cut - this.longest));
    return { start, end: start + steps * B * T + 1 };
  }

  tokens(p: number, r: number, steps: number): Uint16Array {
    const { start, end } = this.range(p, r, steps);
    return this.setup.trainTokens.subarray(start, end);
  }
}

async function honestFrames(
  peers: readonly HonestPeer[],
  expected: FrameExpectation,
  work: (p: number) => { tokens: Uint16Array; innerSteps: number; learningRate: number },
): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (const [p, peer] of peers.entries()) {
    await peer.train(work(p));
    frames.push(await peer.peer.contribute({ round: expected.round, seed: expected.seed }));
  }
  return frames;
}
