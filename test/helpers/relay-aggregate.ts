// The aggregate frame a relay would send for a round of `counted` frames (protocol/round-update.ts),
// for tests that drive engines without a relay: engines apply it with finish().

import { paramLayout } from '../../protocol/param-layout.ts';
import type { CountedFrame } from '../../protocol/round-update.ts';
import { roundAggregate } from '../../protocol/round-update.ts';
import type { RunConfig } from '../../protocol/run-config.ts';

export function relayAggregate(
  config: Pick<RunConfig, 'model' | 'round'>,
  work: { round: number; seed: number },
  counted: readonly CountedFrame[],
): Uint8Array {
  const layout = paramLayout(config.model);
  const expected = { ...work, totalFloats: layout.totalFloats, compression: config.round.compression };
  return roundAggregate(counted, expected, layout, config.round).aggregate;
}
