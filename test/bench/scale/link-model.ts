// The link bench:scale models a volunteer's connection with: a home line, 20 Mbit/s up,
// 50 Mbit/s down, 50 ms round trip. A round's transfer time for one volunteer is its bytes
// over each direction's rate (the two overlap, so the slower of them), plus the round trips a
// round takes in sequence: the frame's upload, the manifest, the decision, a piece from the
// relay, the pieces from the group.
export interface LinkModel {
  readonly upBytesPerSec: number;
  readonly downBytesPerSec: number;
  readonly rttSeconds: number;
}

export const LINK: LinkModel = { upBytesPerSec: 20e6 / 8, downBytesPerSec: 50e6 / 8, rttSeconds: 0.05 };

const ROUND_TRIPS = 5;

export function modelledSeconds(sentBytes: number, receivedBytes: number, link: LinkModel): number {
  return (
    Math.max(sentBytes / link.upBytesPerSec, receivedBytes / link.downBytesPerSec) +
    ROUND_TRIPS * link.rttSeconds
  );
}
