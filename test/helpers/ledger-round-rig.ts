// A relay coordinator on a manual clock, committing to the real ledger (PGlite in memory, with
// its input checks) and running the real work check inline: for tests of what checks and
// settlements do to whole rounds and to the ledger. Members do their work with the CPU
// reference (honestFrame) or send what the test makes up (contribute with values or bytes).
import { innerLoopReference } from '../../kernels/reference/inner-loop.ts';
import { frameOf } from '../../kernels/round/payload.ts';
import { expectedFrameBytes } from '../../protocol/compression-settings.ts';
import { maxFrameBytesInRunFormat } from '../../protocol/frame-format.ts';
import { initParams } from '../../protocol/init-params.ts';
import { encodeLocalState } from '../../protocol/local-state-file.ts';
import { modelHash } from '../../protocol/model-hash.ts';
import { noiseStreamOf } from '../../protocol/noise-stream.ts';
import { paramLayout } from '../../protocol/param-layout.ts';
import type { RoundState } from '../../protocol/round-state-file.ts';
import type { RunConfig } from '../../protocol/run-config.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { RelayMessage } from '../../protocol/swarm-messages.ts';
import { frameClaimMessage } from '../../protocol/swarm-signing.ts';
import { encodeTensorFrame } from '../../protocol/tensor-frame.ts';
import { ManualClock } from '../../relay/clock.ts';
import { Ledger } from '../../relay/ledger/ledger.ts';
import { generateRelaySigner } from '../../relay/ledger/relay-signer.ts';
import { openPglite } from '../../relay/ledger/sql-pglite.ts';
import { silentLogger } from '../../relay/logger.ts';
import { type CommitRecord, Coordinator, type PeerLink } from '../../relay/rounds/coordinator.ts';
import { ShardPool } from '../../relay/rounds/shard-pool.ts';
import { checkWork, type WorkToCheck, type WorkVerdict } from '../../relay/rounds/work-check.ts';
import { ledgerCommit } from '../../relay/run/ledger-commit.ts';
import { generateKeyPair, identityFromKeyPair, type PeerIdentity } from '../../web/src/peer/identity.ts';
import { cpuFrame } from './cpu-frame.ts';
import { harnessConfig } from './round-harness.ts';

export const RIG_RUN = 'rig-run';

/** The harness's tiny model, H = 3, one member enough; `verification` overrides the checking policy. */
export function rigConfig(verification: Partial<RunConfig['verification']> = {}): RunConfig {
  return harnessConfig({
    round: { innerSteps: 3 },
    schedule: { minPeers: 1 },
    verification: { probationRounds: 3, checkProbability: 0.1, revealMs: 120_000, ...verification },
  });
}

export interface RigMember {
  readonly id: string;
  readonly identity: PeerIdentity;
  readonly inbox: RelayMessage[];
  last<T extends RelayMessage['type']>(type: T): Extract<RelayMessage, { type: T }> | undefined;
}

export type LedgerRoundRig = Awaited<ReturnType<typeof ledgerRoundRig>>;

export async function ledgerRoundRig(config: RunConfig, check?: (work: WorkToCheck) => Promise<WorkVerdict>) {
  const layout = paramLayout(config.model);
  const N = layout.totalFloats;
  const clock = new ManualClock();
  const ledger = await Ledger.open(await openPglite(), await generateRelaySigner());
  await ledger.ensureRun(RIG_RUN, {});
  const toLedger = ledgerCommit(ledger, RIG_RUN);
  const commits: CommitRecord[] = [];
  const failedCommits: string[] = [];
  const state = { weights: initParams(config.model, config.seed), momentum: new Float32Array(N) };
  const saved = new Map<string, RoundState>([[await modelHash(state.weights, state.momentum), state]]);
  const trainTokens = async ({ start, end }: { start: number; end: number }) =>
    Uint16Array.from({ length: end - start }, (_, i) => (start + i * 7) % config.model.vocabSize);
  const coordinator = new Coordinator(
    {
      config,
      configHash: 'c'.repeat(64),
      runId: RIG_RUN,
      layout,
      frameBytes: expectedFrameBytes(N, config.round.compression),
      maxFrameBytes: maxFrameBytesInRunFormat(N, config.round.compression),
      committed: { round: -1, modelHash: [...saved.keys()][0] as string },
      trainTokens,
      state,
      states: { save: async (_r, h, s) => void saved.set(h, s), load: async (h) => saved.get(h) ?? null },
      validate: null,
      pool: new ShardPool(1_000_000),
      checkWork: check ?? (async (work) => checkWork(work)),
      commit: async (record) => {
        try {
          const outcome = await toLedger(record);
          commits.push(record);
          return outcome;
        } catch (error) {
          failedCommits.push(`round ${record.round}: ${(error as Error).message}`);
          throw error;
        }
      },
      clock,
      log: silentLogger,
    },
    null,
  );
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await coordinator.settled();
    await coordinator.checksJudged();
  };
  const zeros = () => new Float32Array(N);
  const freshState = encodeLocalState({ m: zeros(), v: zeros(), residual: zeros(), step: 0, round: 0 });
  const assignment = (member: RigMember) => {
    const a = member.last('assignment');
    if (!a) throw new Error('no assignment');
    return a;
  };

  return {
    config,
    clock,
    coordinator,
    ledger,
    commits,
    failedCommits,
    N,
    freshState,
    settle,
    async join(name: string): Promise<RigMember> {
      const identity = await identityFromKeyPair(await generateKeyPair());
      const inbox: RelayMessage[] = [];
      const link: PeerLink = { id: identity.publicKey, name, send: (m) => inbox.push(m) };
      coordinator.join(link);
      return {
        id: identity.publicKey,
        identity,
        inbox,
        last: <T extends RelayMessage['type']>(type: T) =>
          inbox.filter((m) => m.type === type).at(-1) as Extract<RelayMessage, { type: T }> | undefined,
      };
    },
    /** Every member says ready on the committed state; the gather time passes. */
    async openRound(members: readonly RigMember[]) {
      const { round, modelHash: hash } = coordinator.lastCommitted;
      for (const m of members) coordinator.ready(m.id, round, hash);
      clock.advance(config.schedule.gatherMs);
      await settle();
    },
    /** The assigned work done for real (CPU reference) from a fresh state: an honest frame. */
    async honestFrame(member: RigMember): Promise<Uint8Array> {
      const a = assignment(member);
      const theta = saved.get(a.modelHash)?.weights;
      if (!theta) throw new Error('no state for the assignment');
      const fresh = { m: zeros(), v: zeros(), residual: zeros(), step: 0 };
      const done = innerLoopReference(config, fresh, {
        weights: theta,
        tokens: await trainTokens(a.shard),
        innerSteps: a.innerSteps,
        learningRate: a.learningRate,
        seed: a.seed,
        noiseStream: noiseStreamOf(config.seed, member.id),
      });
      return encodeTensorFrame(frameOf(done.payload, a.round));
    },
    /** Uploads `frame` (bytes, or made-up values framed) and a manifest naming `stateBytes`' hash. */
    async contribute(member: RigMember, stateBytes: Uint8Array, frame?: Uint8Array | Float32Array) {
      const a = assignment(member);
      const bytes =
        frame instanceof Uint8Array
          ? frame
          : cpuFrame(
              frame ?? Float32Array.from({ length: N }, (_, i) => Math.sin(i + a.round) * 1e-3),
              config.round.compression,
              a.round,
              a.seed,
            );
      const frameHash = await sha256Hex(bytes);
      const claim = await member.identity.sign(frameClaimMessage(RIG_RUN, a.round, a.seed, frameHash));
      await coordinator.upload(member.id, a.round, bytes, claim);
      coordinator.manifest(member.id, {
        round: a.round,
        frameHash,
        stateHash: await sha256Hex(stateBytes),
        holds: [],
        trainLoss: 3,
      });
      await settle();
    },
  };
}
