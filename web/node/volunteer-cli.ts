// `npm run volunteer -- --relay URL`: donate this machine's GPU to a run from Node, with the
// same protocol and peer runtime as the browser page. Ctrl-C leaves the round cleanly; a relay
// restart or a dropped connection is waited out and the volunteer rejoins.
import { parseArgs } from 'node:util';
import { openNodeContext } from '../../kernels/node/open-context.ts';
import { fileTuneCache } from '../../kernels/node/tune-cache-file.ts';
import { creditsOf } from '../../protocol/credits.ts';
import { STATE_DIR } from '../../relay/state-dir.ts';
import type { PipelineEvent } from '../src/peer/pipeline-events.ts';
import type { SwarmDoc } from '../src/peer/swarm-doc.ts';
import { followMembers } from '../src/peer/swarm-members.ts';
import type { VolunteerEvent } from '../src/peer/volunteer.ts';
import { FileVolunteerStore } from './file-store.ts';
import { headAlarm } from './head-alarm.ts';
import { connectToRelay, type NodeLink } from './node-connection.ts';
import { startNodePipelineVolunteer } from './node-pipeline-volunteer.ts';
import { openNodeSwarmDoc, publishTo } from './node-swarm-doc.ts';
import { startNodeVolunteer } from './node-volunteer.ts';
import { roundSwarmUpdate, stageSwarmUpdate } from './swarm-updates.ts';
import { volunteerPaths } from './volunteer-paths.ts';

const HELP = `Usage: npm run volunteer -- --relay URL [options]

Joins the relay's training run with this machine's GPU (WebGPU through Dawn; SwiftShader
when there is no GPU driver), exchanging compressed updates with the other volunteers over
WebRTC. Keeps its key, the last committed state and its credit receipts in --state.

  --relay URL      the relay, e.g. http://localhost:8787 (required)
  --name NAME      shown on the leaderboard (default: the host name)
  --state DIR      holds everything it writes, its autotune choices too; default
                   volunteer/<name> in the state folder (POTLUCK_STATE, else state/)
  --duty X         fraction of the time the GPU may work, in (0, 1] (default 1)
  --json           one JSON line per event instead of a status line
  -h, --help       this text`;

const { values } = parseArgs({
  options: {
    relay: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string' },
    duty: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.relay) {
  process.stdout.write(`${HELP}\n`);
  process.exit(values.help ? 0 : 2);
}
const name = (values.name ?? (await import('node:os')).hostname()).slice(0, 40);
const dutyCycle = values.duty === undefined ? 1 : Number(values.duty);
if (!(dutyCycle > 0 && dutyCycle <= 1)) {
  process.stderr.write(`--duty must be in (0, 1], got ${values.duty}\n`);
  process.exit(2);
}
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let credits = 0;
/** The status line for an event, or null for events too frequent to print. */
function describe(event: VolunteerEvent): string | null {
  switch (event.type) {
    case 'status':
      return `[${name}] ${event.text}`;
    case 'step': {
      const { step, steps, loss, tokensPerSec } = event.progress;
      if (step !== steps && step % 10 !== 0) return null;
      return `[${name}] round ${event.round} step ${step}/${steps} loss ${loss.toFixed(4)} ${Math.round(tokensPerSec)} tok/s`;
    }
    case 'committed':
      return `[${name}] round ${event.round} committed ${event.hash.slice(0, 12)} (inner loss ${event.trainLoss.toFixed(4)})`;
    case 'receipt':
      credits += creditsOf(event.receipt.entry.flops);
      return `[${name}] receipt for round ${event.receipt.entry.round}: ${credits.toFixed(4)} credits so far`;
    case 'traffic':
      return `[${name}] sent ${event.bytesSent.toLocaleString('en')} B in all (this frame ${event.frameBytes.toLocaleString('en')} B, dense ${event.denseBytes.toLocaleString('en')} B)`;
    case 'round':
    case 'head': // compared with the newest seen by headAlarm (head-alarm.ts), which speaks up
      return null;
  }
}

/** A pipeline run's status line for an event, or null for events too frequent to print. */
function describeStage(event: PipelineEvent): string | null {
  switch (event.type) {
    case 'status':
      return `[${name}] ${event.text}`;
    case 'stage':
      return `[${name}] holds stage ${event.stage + 1} of ${event.stages}: layers [${event.layers.start}, ${event.layers.end})`;
    case 'committed':
      return `[${name}] step ${event.step} committed${event.loss === null ? '' : ` (loss ${event.loss.toFixed(4)})`}`;
    case 'receipt':
      credits += creditsOf(event.receipt.entry.flops);
      return `[${name}] receipt for step ${event.receipt.entry.round}: ${credits.toFixed(6)} credits so far`;
    case 'step':
      return event.phase === 'aborted' ? `[${name}] step ${event.step} aborted` : null;
    case 'microbatch':
    case 'traffic':
      return null;
  }
}

/** Set once the state folder is known: keeps the newest ledger head seen, warns on a rewrite. */
let alarm: ((head: { height: number; hash: string }) => Promise<void>) | null = null;
/** Set once joined: our row of the swarm table every tab of the run shows (node-swarm-doc.ts). */
let swarm: SwarmDoc | null = null;

function show(event: VolunteerEvent): void {
  if (event.type === 'head') void alarm?.(event);
  publishTo(swarm, roundSwarmUpdate(event));
  const line = values.json ? JSON.stringify(event) : describe(event);
  if (line) say(line);
}

function showStage(event: PipelineEvent): void {
  publishTo(swarm, stageSwarmUpdate(event));
  const line = values.json ? JSON.stringify(event) : describeStage(event);
  if (line) say(line);
}

const ctx = await openNodeContext(`volunteer-${name}`);
const { stateDir, tuneCacheFile } = volunteerPaths(name, values.state, STATE_DIR);
alarm = headAlarm(await FileVolunteerStore.open(stateDir), values.relay, (text) =>
  values.json
    ? say(JSON.stringify({ type: 'head-warning', text }))
    : process.stderr.write(`\n[${name}] !!! ${text}\n\n`),
);
/** Our row in the run's swarm document, or null (said why) when it cannot be opened. */
function joinSwarm(link: NodeLink): SwarmDoc | null {
  try {
    return openNodeSwarmDoc({
      relay: link.relays.current,
      runId: link.client.runId,
      identity: link.identity,
      name,
      iceServers: link.client.iceServers,
    });
  } catch (error) {
    say(`[${name}] not listed in the swarm table: ${error instanceof Error ? error.message : error}`);
    return null;
  }
}

const started = await (async () => {
  const link = await connectToRelay({
    relay: values.relay as string,
    name,
    stateDir,
    onStatus: (text) => say(`[${name}] ${text}`),
  });
  swarm = joinSwarm(link);
  // Each connection's relay names whom it seats with us: the rows the table shows.
  const onLink = (next: NodeLink) => {
    if (swarm) followMembers(next.client, swarm);
  };
  // A pipeline run (run config `pipeline`) seats this GPU on a stage; any other trains rounds.
  if (link.config.pipeline)
    return startNodePipelineVolunteer(
      { relay: values.relay as string, name, stateDir, ctx, onEvent: showStage, onLink },
      link,
    );
  return startNodeVolunteer(
    {
      relay: values.relay as string,
      name,
      stateDir,
      ctx,
      tuneCache: fileTuneCache(tuneCacheFile),
      dutyCycle,
      onEvent: show,
      onLink,
    },
    link,
  );
})().catch((error: unknown) => {
  process.stderr.write(`volunteer: ${error instanceof Error ? error.message : error}\n`);
  process.exit(1);
});
say(`[${name}] joined run ${started.runId} as ${started.peerId.slice(0, 12)}…`);
/** Stops the volunteer, then writes our farewell row so the tables drop us at once. */
const leave = () => started.stop().finally(() => swarm?.destroy());
let leaving = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    leaving = true;
    say(`[${name}] leaving`);
    leave().finally(() => process.exit(0));
  });
// A dropped connection is retried (its status lines are printed); a refusal no retry can change
// (another process took this key, the run is gone) ends the volunteer, its reason printed too.
void started.ended.then(() => {
  if (!leaving) leave().finally(() => process.exit(1));
});
