// The exact bytes a peer signs for each message that proves identity or earns credit. Each
// starts with a domain tag and version, so a signature made for one purpose can never be
// replayed as another, and names the run, so it cannot be replayed on another run. Fields are
// joined by '|', which none of them can contain (ids and hashes are base64url or hex).

const encoder = new TextEncoder();

/** The challenge answer: proves the peer holds the private key of the id it claims. */
export function helloMessage(runId: string, nonce: string): Uint8Array {
  return encoder.encode(`potluck-hello-v1|${runId}|${nonce}`);
}

export interface ManifestFields {
  readonly round: number;
  readonly frameHash: string;
  readonly frameBytes: number;
  /** SHA-256 of the peer's own starting state (protocol/local-state-file.ts). */
  readonly stateHash: string;
  /** With each, the author's signed claim that came with the frame (frameClaimMessage below). */
  readonly holds: readonly { readonly peer: string; readonly frameHash: string; readonly claim: string }[];
  readonly trainLoss: number | null;
}

/** A contribution manifest: what the peer sent and which frames of others it holds. */
export function manifestMessage(runId: string, m: ManifestFields): Uint8Array {
  const holds = [...m.holds]
    .sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
    .map((h) => `${h.peer}:${h.frameHash}`)
    .join(',');
  const loss = m.trainLoss === null ? '' : String(m.trainLoss);
  return encoder.encode(
    `potluck-manifest-v2|${runId}|${m.round}|${m.frameHash}|${m.frameBytes}|${m.stateHash}|${holds}|${loss}`,
  );
}

/**
 * An author's claim that its contribution to `round`, opened with `seed`, is the frame hashing
 * to `frameHash`. It travels with the frame (to the relay, and to every peer over the mesh), so
 * two different frames from one author for one opening of a round are proven by two of these
 * signatures: equivocation. The seed tells openings apart: a round that aborted is opened again
 * with another seed, and a claim from the first attempt proves nothing about the second.
 */
export function frameClaimMessage(runId: string, round: number, seed: number, frameHash: string): Uint8Array {
  return encoder.encode(`potluck-frame-v2|${runId}|${round}|${seed}|${frameHash}`);
}

/** The hash of θ_{r+1} a peer computed after summing the counted set. */
export function modelHashMessage(runId: string, round: number, hash: string): Uint8Array {
  return encoder.encode(`potluck-model-hash-v1|${runId}|${round}|${hash}`);
}

export interface StageReportFields {
  readonly step: number;
  readonly stage: number;
  readonly paramsHash: string;
  readonly microbatches: number;
  readonly lossSum: number | null;
}

/** A pipeline peer's end of step: the stage weights it holds and what it says it did. */
export function stageReportMessage(runId: string, r: StageReportFields): Uint8Array {
  const loss = r.lossSum === null ? '' : String(r.lossSum);
  return encoder.encode(
    `potluck-stage-report-v1|${runId}|${r.step}|${r.stage}|${r.paramsHash}|${r.microbatches}|${loss}`,
  );
}

/**
 * A swarm-document entry (swarm-doc-entry.ts): `body` is the exact text stored under the
 * author's `publicKey` in the run's `peers` map. It comes last, so whatever it holds cannot be
 * read as another field; run ids and keys cannot hold '|'.
 */
export function swarmEntryMessage(runId: string, publicKey: string, body: string): Uint8Array<ArrayBuffer> {
  // TextEncoder makes a fresh ArrayBuffer; lib.dom types it as ArrayBufferLike.
  return encoder.encode(`potluck-swarm-entry-v1|${runId}|${publicKey}|${body}`) as Uint8Array<ArrayBuffer>;
}
