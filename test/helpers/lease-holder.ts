// A relay's lease thread alone, in a process of its own, for test/unit/cluster/leadership.test.ts
// to SIGKILL: `node --import tsx test/helpers/lease-holder.ts URL RUN RELAY TTL_MS`. Prints
// `lead EPOCH` when it takes the run.
import { LeaseThread } from '../../relay/cluster/lease-thread.ts';
import { silentLogger } from '../../relay/logger.ts';

const [databaseUrl, runId, relayId, ttl] = process.argv.slice(2);
if (!databaseUrl || !runId || !relayId || !ttl) throw new Error('usage: lease-holder URL RUN RELAY TTL_MS');
new LeaseThread({
  databaseUrl,
  runId,
  relayId,
  ttlMs: Number(ttl),
  maxStallMs: 60_000,
  log: silentLogger,
  onLead: (epoch) => console.log(`lead ${epoch}`),
  onLose: () => console.log('lost'),
  onLeader: () => {},
});
