// The run end-to-end swarm tests give real GPU volunteers (Dawn on SwiftShader here): a tiny
// model and short rounds that still learn, every member waited for (quorum 1, no grace), so
// each scenario runs the same rounds with the same members.
export const GPU_SWARM_MODEL = { vocabSize: 256, contextLength: 32, dModel: 32, nLayer: 1, nHead: 2 };

/** Run config overrides for `minPeers` honest volunteers, with `extra` sections merged in. */
export function gpuSwarmOverrides(
  minPeers: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    model: GPU_SWARM_MODEL,
    inner: { batchSize: 4, seqLen: 32, learningRate: 1e-2, warmupRounds: 0 },
    round: { innerSteps: 8 },
    ...extra,
    schedule: {
      minPeers,
      gatherMs: 500,
      minRoundMs: 60_000,
      maxRoundMs: 60_000,
      hashTimeoutMs: 15_000,
      quorum: 1,
      graceMs: 0,
    },
  };
}
