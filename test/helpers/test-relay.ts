// A real relay on a loopback port for tests: in-memory PGlite (or PostgreSQL when given a
// URL), a small prepared slice of the Brown Corpus, and a run config with short deadlines.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunConfig } from '../../protocol/run-config.ts';
import { readBrownCorpus } from '../../relay/datasets/brown.ts';
import type { SourceDocument } from '../../relay/datasets/document.ts';
import { prepareDataset } from '../../relay/datasets/prepare.ts';
import { createLogger, silentLogger } from '../../relay/logger.ts';
import { resolveRunConfig } from '../../relay/run/run-config.ts';
import { MEMORY_DATABASE, type RelayHandle, type RelayOptions, startRelay } from '../../relay/server.ts';

/** Prepares the first `documents` Brown documents into a fresh folder; returns the folder. */
export function smallDataset(documents = 6): Promise<string> {
  return preparedFolder(readBrownCorpus().slice(0, documents));
}

/**
 * The first `chars` characters of the first Brown document, two thirds of them for training:
 * an epoch a pipeline step or two long, so that samples come back (and AQ-SGD sends deltas)
 * within a few steps.
 */
export function shortDataset(chars: number): Promise<string> {
  const [first] = readBrownCorpus();
  if (!first) throw new Error('the Brown Corpus has no documents');
  return preparedFolder([{ ...first, text: first.text.slice(0, chars) }]);
}

async function preparedFolder(documents: readonly SourceDocument[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'potluck-data-'));
  await prepareDataset({
    documents,
    source: { kind: 'files', files: ['brown-sample'] },
    outDir: dir,
    valEvery: 3,
  });
  return dir;
}

/**
 * A small model for relay tests: scripted peers frame and sum it on the CPU, and the relay
 * scores each state on the CPU, so the default model would make every round take seconds.
 */
export const SCRIPTED_MODEL = { vocabSize: 256, contextLength: 64, dModel: 32, nLayer: 1, nHead: 2 };

/** Identity stamp difficulty of test runs (the default, 22 bits, takes seconds). */
export const TEST_STAMP_BITS = 8;

/** Fast rounds: scripted peers answer at once, so deadlines only matter for silent ones. */
export function fastRun(dataset: string, overrides: Record<string, unknown> = {}): RunConfig {
  const resolved = resolveRunConfig({
    dataset,
    model: SCRIPTED_MODEL,
    schedule: {
      minPeers: 1,
      gatherMs: 200, // scripted peers answer at once: this paces rounds under /swarm's rate limit
      minRoundMs: 1_500,
      maxRoundMs: 1_500,
      hashTimeoutMs: 1_000,
      ...((overrides.schedule as object) ?? {}),
    },
    // Scripted peers send vectors that descend nothing, so the relay's scoring (which keeps only
    // steps that lower its held-out loss) is off unless a test with real training turns it on.
    guard: { validationSequences: 0, ...((overrides.guard as object) ?? {}) },
    // 2^8 hashes: test clients mint a stamp in about a millisecond, and a hello without one is
    // still refused, so every test client proves its identity as a volunteer does.
    identity: { stampBits: TEST_STAMP_BITS },
    // The relay checks work by redoing it; scripted peers do none, so checks are off unless a
    // test with peers that train for real turns them on (their credit then stays provisional).
    verification: { probationRounds: 0, checkProbability: 0, ...((overrides.verification as object) ?? {}) },
    ...Object.fromEntries(
      Object.entries(overrides).filter(
        ([k]) => k !== 'schedule' && k !== 'guard' && k !== 'verification' && k !== 'identity',
      ),
    ),
  });
  if (!resolved.ok) throw new Error(resolved.message);
  return resolved.config;
}

export async function startTestRelay(
  dataset: string,
  options: Partial<RelayOptions> & { overrides?: Record<string, unknown> } = {},
): Promise<RelayHandle> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'potluck-relay-')));
  return startRelay({
    port: 0,
    host: '127.0.0.1',
    stateDir,
    databaseUrl: MEMORY_DATABASE,
    run: fastRun(dataset, options.overrides),
    webDir: null,
    // POTLUCK_TEST_LOG=debug shows the relay's own log when an end-to-end test needs explaining.
    log: process.env.POTLUCK_TEST_LOG ? createLogger(process.env.POTLUCK_TEST_LOG) : silentLogger,
    ...options,
  });
}
