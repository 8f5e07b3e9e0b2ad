// Telling a TURN-relayed link from a direct one by its statistics, as Chromium and the Node
// WebRTC library report them; anything else is "unknown", never a throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRelayedRoute } from '../../../web/src/peer/link-route.ts';

const candidates = (local: string, remote: string) => [
  { id: 'L1', type: 'local-candidate', candidateType: local },
  { id: 'R1', type: 'remote-candidate', candidateType: remote },
];

describe('isRelayedRoute', () => {
  it('reads the transport’s selected pair (Chromium)', () => {
    const stats = new Map(
      [
        { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
        { id: 'P', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1' },
        ...candidates('relay', 'srflx'),
      ].map((r) => [r.id, r]),
    );
    expect(isRelayedRoute(stats)).toBe(true);
  });

  it('reads a pair marked selected or nominated and succeeded (older stacks)', () => {
    const direct = [
      { id: 'P', type: 'candidate-pair', selected: true, localCandidateId: 'L1', remoteCandidateId: 'R1' },
      ...candidates('host', 'host'),
    ];
    expect(isRelayedRoute(direct)).toBe(false);
    const relayed = [
      {
        id: 'P',
        type: 'candidate-pair',
        nominated: true,
        state: 'succeeded',
        localCandidateId: 'L1',
        remoteCandidateId: 'R1',
      },
      ...candidates('srflx', 'relay'),
    ];
    expect(isRelayedRoute(relayed)).toBe(true);
  });

  it('says nothing without a selected pair, and never throws', () => {
    expect(isRelayedRoute([])).toBeNull();
    expect(isRelayedRoute(undefined)).toBeNull();
    expect(isRelayedRoute([{ id: 'P', type: 'candidate-pair', state: 'in-progress' }])).toBeNull();
    fc.assert(fc.property(fc.anything(), (junk) => void isRelayedRoute(junk)));
  });
});
