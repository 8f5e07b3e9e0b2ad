// Our /signal server as a process of its own, so the benchmark measures it the same way as
// y-webrtc's bin/server.js: `PORT=4444 node --import tsx test/bench/relay/serve-signal.ts`.
// Default limits (the benchmark checks nothing was refused), but for the per-address ones: every
// simulated client comes from this one loopback address. GET /stats answers the counters.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { routeUpgrades } from '../../../relay/http/upgrade-route.ts';
import { createSignalServer } from '../../../relay/signal/index.ts';

const signal = createSignalServer({ maxConnectionsPerAddress: Number.MAX_SAFE_INTEGER });
const server = createServer((request, response) => {
  response.writeHead(200, { 'Content-Type': request.url === '/stats' ? 'application/json' : 'text/plain' });
  response.end(request.url === '/stats' ? JSON.stringify(signal.stats()) : 'okay');
});
routeUpgrades(server, { '/signal': signal.handleUpgrade });
server.listen(Number(process.env.PORT ?? 4444), '127.0.0.1', () => {
  process.stdout.write(`Signal server listening on ${(server.address() as AddressInfo).port}\n`);
});
const stop = async () => {
  await signal.close();
  server.close();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
