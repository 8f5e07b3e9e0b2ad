// One bench:byzantine scenario: P members, the first P − f honest RoundPeers, the last f
// attackers, for R rounds. Every frame crosses an in-memory mesh (the real chunking); the
// relay (simulated-relay.ts) decides and commits; every honest peer starts the next round
// from what the relay committed, and the first honest peer's own finish() must land on the
// relay's hash.
//
// Honest frames depend only on the states the honest peers started each round from, so they
// are cached under that chain of model hashes: a scenario whose chain matches one already run
// (an attack whose frames are all refused, an equivocator who is dropped, a row that equals
// another) replays the cached frames without training, and trains only when the chain leaves
// what is cached.
import type { RoundPeer } from '../../../kernels/round/round-peer.ts';
import type { ParamLayout } from '../../../protocol/param-layout.ts';
import { deriveSeed } from '../../../protocol/random-k.ts';
import { createRng } from '../../../protocol/rng.ts';
import type { FrameExpectation } from '../../../protocol/round-update.ts';
import type { GuardConfig, RoundConfig } from '../../../protocol/run-config.ts';
import { type Attack, RoundView } from './attacks.ts';
import { Mesh } from './frame-mesh.ts';
import { type HonestSwarm, peerId } from './honest-swarm.ts';
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
  readonly layout: ParamLayout;
  readonly rounds: number;
  readonly seed: number;
  /** Tokens the relay assigns each member per round. */
  readonly tokensPerMember: number;
  readonly init: Float32Array;
  readonly score: (weights: Float32Array) => Promise<number>;
  /** Honest frames by chain of round-start hashes, shared by every scenario of a run. */
  readonly cache: Map<string, readonly Uint8Array[]>;
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
  trainers: readonly RoundPeer[] | null,
): Promise<ScenarioResult | null> {
  const { round: roundConfig, attack } = scenario;
  const honest = honestCount(scenario);
  const attackers = attack ? scenario.attackers : 0;
  const relay = await SimulatedRelay.start(
    { layout: setup.layout, outer: roundConfig, guard: scenario.guard, score: setup.score },
    setup.init,
  );
  const mesh = new Mesh([...Array.from({ length: honest + attackers }, (_, p) => peerId(p)), RELAY]);
  const honestIds = Array.from({ length: honest }, (_, p) => peerId(p));
  const attackerIds = Array.from({ length: attackers }, (_, a) => peerId(honest + a));

  let chain = `${honest} honest`;
  let previous: { frames: readonly Uint8Array[]; expected: FrameExpectation } | null = null;
  let rolledBack = 0;
  let aborted = 0;
  for (let r = 0; r < setup.rounds; r++) {
    chain += ` ${relay.state.hash}`;
    const expected: FrameExpectation = {
      round: r,
      seed: deriveSeed(setup.seed, r),
      totalFloats: setup.init.length,
      compression: roundConfig.compression,
    };
    const frames = trainers ? await honestFrames(trainers, expected) : setup.cache.get(chain);
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
    const members = [...honestIds, ...attackerIds].map((id) => ({
      peer: id,
      tokens: setup.tokensPerMember,
      relayCopy: mesh.held(RELAY, id),
      meshCopies: honestIds.filter((h) => h !== id).map((h) => mesh.held(h, id)),
    }));
    const outcome = await relay.round(expected, members);
    mesh.clear();

    if (outcome.kind === 'aborted') {
      aborted++;
      for (const peer of trainers ?? []) peer.discard();
      setup.onRound?.(`round ${r + 1}/${setup.rounds}: aborted (${outcome.reason})`);
    } else {
      if (outcome.kind === 'rolled-back') rolledBack++;
      const first = trainers?.[0];
      const own = first
        ? (await first.finish({ round: r, seed: expected.seed }, outcome.counted)).hash
        : relay.computedHash;
      if (own !== relay.computedHash)
        throw new Error(`round ${r}: ${first?.id} computed ${own}, the relay ${relay.computedHash}`);
      relay.report(own);
      if (attack?.forgesReports) for (const _ of attackerIds) relay.report(FORGED_HASH);
      for (const peer of trainers ?? []) peer.adopt(relay.state.weights, relay.state.momentum);
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
  };
}

const RELAY = 'relay';
const ATTACKER_SALT = 0xbad5eed;
const FORGED_HASH = 'f'.repeat(64);

async function honestFrames(peers: readonly RoundPeer[], expected: FrameExpectation): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for (const peer of peers) {
    await peer.train();
    frames.push(await peer.contribute({ round: expected.round, seed: expected.seed }));
  }
  return frames;
}
