// Whether a WebRTC link runs through a TURN relay, from the connection's statistics (W3C
// webrtc-stats): the selected candidate pair's local or remote candidate of type "relay". Two
// volunteers behind symmetric NATs cannot reach each other directly; with a TURN server
// configured on the relay their link goes through it, and the page says so (it costs the TURN
// server's bandwidth and adds its round trip). Never throws: the reports are the browser's or
// the WebRTC library's, whatever shape they come in.

/** True: relayed; false: direct; null: the statistics do not say (no selected pair yet). */
export function isRelayedRoute(reports: unknown): boolean | null {
  const list = asList(reports);
  const byId = new Map<string, Record<string, unknown>>();
  for (const report of list) if (typeof report.id === 'string') byId.set(report.id, report);
  // The transport names the selected pair; older stacks mark the pair itself.
  const transport = list.find((r) => r.type === 'transport' && typeof r.selectedCandidatePairId === 'string');
  const pair =
    (transport && byId.get(transport.selectedCandidatePairId as string)) ??
    list.find(
      (r) =>
        r.type === 'candidate-pair' &&
        (r.selected === true || (r.nominated === true && r.state === 'succeeded')),
    );
  if (!pair) return null;
  const local = byId.get(String(pair.localCandidateId));
  const remote = byId.get(String(pair.remoteCandidateId));
  if (!local && !remote) return null;
  return local?.candidateType === 'relay' || remote?.candidateType === 'relay';
}

function asList(reports: unknown): Record<string, unknown>[] {
  const items: unknown[] = [];
  if (Array.isArray(reports)) items.push(...reports);
  else if (reports && typeof (reports as { forEach?: unknown }).forEach === 'function')
    (reports as { forEach(f: (value: unknown) => void): void }).forEach((value) => {
      items.push(value);
    });
  return items.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
}
