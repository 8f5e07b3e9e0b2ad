// `npm run cooldown`: the operator starts the cooldown of the run a relay serves (a wsd or
// infinite learning-rate schedule, protocol/learning-rate.ts), or asks where it stands. It talks
// to the running relay over its API (POST /api/runs/:id/cooldown, protocol/cooldown-api.ts) with
// the operator token from the relay's state folder (relay/http/operator-token.ts), so the relay
// that coordinates the rounds records the start and opens the next round at the cooled rate.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as v from 'valibot';
import { CooldownBody, OPERATOR_AUTH_SCHEME } from '../../protocol/cooldown-api.ts';
import { ErrorBody, parseHttpBody } from '../../protocol/http-body.ts';
import { RunsBody } from '../../protocol/run-api.ts';
import { OPERATOR_TOKEN_FILE, readOperatorToken } from '../http/operator-token.ts';
import { STATE_DIR } from '../state-dir.ts';

const HELP = `Usage: npm run cooldown -- [start|status] [--relay URL] [--state DIR]

  start                (the default) start the run's cooldown from the next round to open:
                       wsd decays from the peak to the floor, infinite anneals from its plateau,
                       over the run config's cooldownRounds. Once only; a cosine run has none
  status               print the run's schedule, where its cooldown stands, and the next
                       round's learning rate

  --relay URL          (POTLUCK_RELAY_URL) the running relay; default http://localhost:8787
  --state DIR          (POTLUCK_STATE) the relay's state folder, which holds ${OPERATOR_TOKEN_FILE};
                       default state/
  -h, --help           this text`;

export interface CooldownArgs {
  readonly command: 'start' | 'status';
  readonly relayUrl: string;
  readonly tokenFile: string;
}

/** Parses argv (without node and script); null when --help was asked for. Throws on a usage error. */
export function parseCooldownArgs(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): CooldownArgs | null {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      relay: { type: 'string' },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const [command = 'start', ...rest] = positionals;
  if ((command !== 'start' && command !== 'status') || rest.length > 0)
    throw new RangeError(`expected one command, start or status; got ${positionals.join(' ')}`);
  const stateDir = values.state
    ? resolve(values.state)
    : env.POTLUCK_STATE
      ? resolve(env.POTLUCK_STATE)
      : STATE_DIR;
  return {
    command,
    relayUrl: (values.relay ?? env.POTLUCK_RELAY_URL ?? 'http://localhost:8787').replace(/\/+$/, ''),
    tokenFile: resolve(stateDir, OPERATOR_TOKEN_FILE),
  };
}

/** Runs the command against the relay; what it prints goes to `say`. Throws what the relay refused. */
export async function runCooldown(
  args: CooldownArgs,
  say: (line: string) => void,
  fetchFn: typeof fetch = fetch,
): Promise<CooldownBody> {
  const runs = await answer(await fetchFn(`${args.relayUrl}/api/runs`), RunsBody);
  const run = runs.runs[0];
  if (!run) throw new Error(`${args.relayUrl} serves no run`);
  const url = `${args.relayUrl}/api/runs/${encodeURIComponent(run.id)}/cooldown`;
  let body: CooldownBody;
  if (args.command === 'status') body = await answer(await fetchFn(url), CooldownBody);
  else {
    const token = await readOperatorToken(args.tokenFile);
    if (!token) throw new Error(`no ${args.tokenFile}: the relay makes it when it first starts`);
    body = await answer(
      await fetchFn(url, { method: 'POST', headers: { authorization: `${OPERATOR_AUTH_SCHEME} ${token}` } }),
      CooldownBody,
    );
    say(`Started the cooldown of ${run.id}.`);
  }
  say(`  schedule      ${body.schedule}`);
  say(
    `  cooldown      ${body.cooldownFrom === null ? 'not started' : `from round ${body.cooldownFrom}`}` +
      (body.triggered === null ? '' : ` (the operator's, at round ${body.triggered})`),
  );
  say(`  next round    ${body.nextRound}, at learning rate ${body.learningRate}`);
  return body;
}

/** The body of a 2xx answer as `schema` says, or the relay's error as an Error. */
async function answer<T>(response: Response, schema: v.GenericSchema<unknown, T>): Promise<T> {
  const json: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = parseHttpBody(ErrorBody, json);
    throw new Error(
      error.ok
        ? `${error.value.error.code}: ${error.value.error.message}`
        : `the relay answered ${response.status}`,
    );
  }
  const parsed = parseHttpBody(schema, json);
  if (!parsed.ok) throw new Error(`the relay's answer is not what the API says: ${parsed.error.message}`);
  return parsed.value;
}

async function main(argv: readonly string[]): Promise<void> {
  let args: CooldownArgs | null;
  try {
    args = parseCooldownArgs(argv);
  } catch (error) {
    process.stderr.write(`cooldown: ${error instanceof Error ? error.message : error}\n\n${HELP}\n`);
    process.exitCode = 2;
    return;
  }
  if (!args) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  await runCooldown(args, (line) => process.stdout.write(`${line}\n`));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`cooldown: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 1;
  });
}
