// `npm run relay-key`: the operator's commands for the relay's signing key. `rotate` hands the
// ledger to a new key, recorded in the chain and signed by the old key and the new
// (relay/ledger/rotate-state-key.ts); `show` prints the key and the rotations the ledger holds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Ledger } from '../ledger/ledger.ts';
import { RELAY_KEY_FILE, readRelayKey } from '../ledger/relay-signer.ts';
import { rotateStateKey } from '../ledger/rotate-state-key.ts';
import type { Sql } from '../ledger/sql.ts';
import { openPglite } from '../ledger/sql-pglite.ts';
import { openPostgres } from '../ledger/sql-postgres.ts';
import { STATE_DIR } from '../state-dir.ts';

const HELP = `Usage: npm run relay-key -- rotate|show [--state DIR] [--database-url URL]

  rotate               make a new relay key, record the change in the ledger signed by the
                       old key and the new one, keep the old key as
                       ${RELAY_KEY_FILE}.retired-<time>, and check that the ledger verifies
                       with the new key, which the relay starts with from now on
  show                 print the relay key and every rotation the ledger holds

  --state DIR          (POTLUCK_STATE) the relay's state folder; default state/
  --database-url URL   (DATABASE_URL) postgres://… when the ledger is in PostgreSQL;
                       default: the embedded PGlite in the state folder
  -h, --help           this text

Stop the relay first: PGlite is one process's database, and a relay still running on the old
key commits no round after the rotation. Several relays on one PostgreSQL: stop them all,
rotate on one, copy its new ${RELAY_KEY_FILE} into every other state folder, start them.`;

export interface RelayKeyArgs {
  readonly command: 'rotate' | 'show';
  readonly stateDir: string;
  readonly databaseUrl: string | null;
}

/** Parses argv (without node and script); null when --help was asked for. Throws on a usage error. */
export function parseRelayKeyArgs(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): RelayKeyArgs | null {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const [command, ...rest] = positionals;
  if ((command !== 'rotate' && command !== 'show') || rest.length > 0)
    throw new RangeError(`expected one command, rotate or show; got ${positionals.join(' ') || 'none'}`);
  return {
    command,
    stateDir: values.state ? resolve(values.state) : STATE_DIR,
    databaseUrl: values['database-url'] ?? env.DATABASE_URL ?? null,
  };
}

/** Runs the command; what it prints goes to `say`. */
export async function runRelayKey(args: RelayKeyArgs, say: (line: string) => void): Promise<void> {
  // Before the database: opening PGlite on a folder makes one there.
  const keyFile = resolve(args.stateDir, RELAY_KEY_FILE);
  if (!(await readRelayKey(keyFile)))
    throw new Error(`no ${keyFile}: the relay makes one when it first starts`);
  const sql: Sql = args.databaseUrl
    ? await openPostgres(args.databaseUrl)
    : await openPglite(resolve(args.stateDir, 'db'));
  try {
    if (args.command === 'show') await show(args.stateDir, sql, say);
    else await rotate(args.stateDir, sql, say);
  } finally {
    await sql.close();
  }
}

async function rotate(stateDir: string, sql: Sql, say: (line: string) => void): Promise<void> {
  const done = await rotateStateKey(stateDir, sql);
  say(done.resumed ? 'Finished an interrupted rotation.' : 'Rotated the relay key.');
  say(`  retired key   ${done.from}  (kept as ${done.retiredFile})`);
  say(`  new key       ${done.to}  (${resolve(stateDir, RELAY_KEY_FILE)})`);
  say(
    done.rotation
      ? `  recorded at   height ${done.rotation.height}, signed by both keys; the ledger verifies with the new key`
      : '  nothing recorded: no round is committed yet, so the new key simply signs from the first',
  );
  say('Start the relay again; relays sharing this database need the new key file too.');
}

async function show(stateDir: string, sql: Sql, say: (line: string) => void): Promise<void> {
  const file = resolve(stateDir, RELAY_KEY_FILE);
  const signer = await readRelayKey(file);
  if (!signer) throw new Error(`no ${file}`);
  const rotations = await (await Ledger.open(sql, signer)).rotations();
  say(`relay key  ${signer.publicKey}  (${file})`);
  if (rotations.length === 0) say('the ledger records no rotation');
  for (const r of rotations) say(`height ${r.height}: ${r.fromKey} → ${r.toKey}`);
  const last = rotations.at(-1);
  if (last && last.toKey !== signer.publicKey)
    say(`this key is not the ledger's: the last rotation handed it to ${last.toKey}`);
}

async function main(argv: readonly string[]): Promise<void> {
  let args: RelayKeyArgs | null;
  try {
    args = parseRelayKeyArgs(argv);
  } catch (error) {
    process.stderr.write(`relay-key: ${error instanceof Error ? error.message : error}\n\n${HELP}\n`);
    process.exitCode = 2;
    return;
  }
  if (!args) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  await runRelayKey(args, (line) => process.stdout.write(`${line}\n`));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`relay-key: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 1;
  });
}
