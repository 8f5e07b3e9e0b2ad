// `npm start`: the relay on embedded defaults (PGlite in the state folder, the Brown Corpus,
// the default run config), serving the volunteer page, the leaderboard and the API on one
// port. Every option is also an environment variable; flags win.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_RUN } from '../../protocol/run-config.ts';
import { createLogger } from '../logger.ts';
import { resolveRunConfig } from '../run/run-config.ts';
import { startRelay } from '../server.ts';
import { STATE_DIR } from '../state-dir.ts';
import { readTlsPair, type TlsFiles, tlsFilesOf } from '../tls/tls-files.ts';
import { ensureWebBuild } from './ensure-web-build.ts';
import { startLocalVolunteers } from './local-volunteers.ts';

const HELP = `Usage: npm start -- [options]

Runs the Potluck relay: signaling (/signal), round coordination (/swarm), the credit ledger,
the volunteer page (/) and the leaderboard (/leaderboard), all on one port.

  --port N             (PORT) port to listen on; default 8787
  --host ADDR          (HOST) address to bind; default 0.0.0.0 (every interface)
  --state DIR          (POTLUCK_STATE) database, relay key, operator token (npm run
                       cooldown), checkpoints, prepared data, and the --volunteers' keys,
                       receipts and autotune choices; default state/ in the repository
  --database-url URL   (DATABASE_URL) postgres://… to keep the ledger in PostgreSQL;
                       default: embedded PGlite in the state folder. Several relays started
                       with one database serve one run together (see the README)
  --public-url URL     (POTLUCK_PUBLIC_URL) where volunteers reach this relay, e.g.
                       https://relay-2.example.org; told to every volunteer so it can move to
                       another relay when its own stops. Default: the address it listens on
  --run FILE           (POTLUCK_RUN) run config JSON: any subset of
                       ${Object.keys(DEFAULT_RUN).join(', ')}
  --dataset NAME|PATH  (POTLUCK_DATASET) "brown" or a folder made by npm run prepare-data;
                       overrides the run config's dataset
  --stun URLS          (POTLUCK_STUN) comma-separated STUN URLs handed to volunteers
  --turn URLS          (POTLUCK_TURN) comma-separated TURN URLs ...
  --turn-secret S      (POTLUCK_TURN_SECRET) ... with coturn's static-auth-secret, from which
                       short-lived credentials are made per volunteer
  --trust-proxy-header NAME
                       (POTLUCK_TRUST_PROXY_HEADER) behind a reverse proxy: count /swarm's
                       per-address caps by the last address in this header (e.g.
                       x-forwarded-for); only when the relay is reachable through it alone
  --tls-cert FILE      (POTLUCK_TLS_CERT) serve HTTPS and wss:// with this PEM certificate
                       (e.g. /etc/letsencrypt/live/NAME/fullchain.pem) ...
  --tls-key FILE       (POTLUCK_TLS_KEY) ... and its private key (privkey.pem); both or
                       neither. Renewed files are picked up without a restart
  --volunteers N       also start N headless volunteers on this machine's GPU, so a
                       newcomer sees a run train (their output is prefixed with their name)
  --api-only           do not build or serve the pages
  -h, --help           this text`;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    state: { type: 'string' },
    'database-url': { type: 'string' },
    'public-url': { type: 'string' },
    run: { type: 'string' },
    dataset: { type: 'string' },
    stun: { type: 'string' },
    turn: { type: 'string' },
    'turn-secret': { type: 'string' },
    'trust-proxy-header': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'api-only': { type: 'boolean' },
    volunteers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const env = process.env;
const say = (line: string) => process.stderr.write(`${line}\n`);
const fail = (message: string): never => {
  say(`potluck relay: ${message}`);
  process.exit(2);
};
const list = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const port = Number(values.port ?? env.PORT ?? 8787);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be 0-65535, got ${values.port ?? env.PORT}`);
const runFile = values.run ?? env.POTLUCK_RUN;
let runInput: Record<string, unknown> = {};
if (runFile) {
  try {
    runInput = JSON.parse(await readFile(runFile, 'utf8'));
  } catch (error) {
    fail(`cannot read the run config ${runFile}: ${error instanceof Error ? error.message : error}`);
  }
}
const dataset = values.dataset ?? env.POTLUCK_DATASET;
const resolved = resolveRunConfig(dataset ? { ...runInput, dataset } : runInput);
if (!resolved.ok) fail(resolved.message);
const runConfig = resolved.ok ? resolved.config : DEFAULT_RUN;
// Checked before the pages are built and the dataset prepared (minutes on a first start), so a
// wrong pair is refused at once; startRelay checks it again as it serves it.
let tls: TlsFiles | null = null;
try {
  tls = tlsFilesOf(values['tls-cert'] ?? env.POTLUCK_TLS_CERT, values['tls-key'] ?? env.POTLUCK_TLS_KEY);
  if (tls) await readTlsPair(tls);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

// Everything this process and its local volunteers write goes in here (issue 17).
const stateDir = values.state ? resolve(values.state) : STATE_DIR;
const log = createLogger();
const webDir = values['api-only'] ? null : await ensureWebBuild(say);
const relay = await startRelay({
  port,
  host: values.host ?? env.HOST ?? '0.0.0.0',
  stateDir,
  databaseUrl: values['database-url'] ?? env.DATABASE_URL ?? null,
  publicUrl: values['public-url'] ?? env.POTLUCK_PUBLIC_URL ?? null,
  run: runConfig,
  webDir,
  ice: {
    stunUrls: list(values.stun ?? env.POTLUCK_STUN),
    turnUrls: list(values.turn ?? env.POTLUCK_TURN),
    turnSecret: values['turn-secret'] ?? env.POTLUCK_TURN_SECRET ?? null,
    turnTtlSeconds: 3600,
  },
  swarmLimits: { trustedProxyHeader: values['trust-proxy-header'] ?? env.POTLUCK_TRUST_PROXY_HEADER ?? null },
  tls,
  log,
}).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));

say(
  `\nPotluck relay for run ${relay.run.id}: open ${relay.url}/ to donate a GPU, ${relay.url}/leaderboard to watch.\n`,
);

const volunteerCount = Number(values.volunteers ?? 0);
if (!Number.isInteger(volunteerCount) || volunteerCount < 0)
  fail(`--volunteers must be a count, got ${values.volunteers}`);
const children = startLocalVolunteers(volunteerCount, relay.url, stateDir, say);

// Graceful shutdown: stop taking rounds, close sockets, flush the database, then exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: shutting down`);
    for (const child of children) child.kill('SIGINT');
    relay.close().then(
      () => process.exit(0),
      (error: unknown) => {
        say(`shutdown failed: ${error instanceof Error ? error.message : error}`);
        process.exit(1);
      },
    );
  });
}
