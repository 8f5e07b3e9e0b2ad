// The relay side of the crash test (crash.test.ts), run as its own process so the parent can
// SIGKILL it at any instant: it opens the ledger in a PGlite folder, re-commits the last
// round (a retry must come back as a duplicate), then commits new rounds, printing
// `ack <round>` only after each commit has resolved, until it reaches the target round.
//
//   node --import tsx crash-child.ts <data dir> <key file> <target round>
import { Ledger } from '../../../relay/ledger/ledger.ts';
import { loadOrCreateRelayKey } from '../../../relay/ledger/relay-signer.ts';
import { openPglite } from '../../../relay/ledger/sql-pglite.ts';
import { CRASH_RUN, crashRound } from './fixtures.ts';

async function main(dataDir: string, keyFile: string, target: number): Promise<void> {
  const sql = await openPglite(dataDir);
  const ledger = await Ledger.open(sql, await loadOrCreateRelayKey(keyFile));
  await ledger.ensureRun(CRASH_RUN, { purpose: 'crash test' });
  const last = await ledger.lastRound(CRASH_RUN);
  if (last) {
    const retry = await ledger.commitRound(crashRound(last.round));
    if (!retry.duplicate) throw new Error(`round ${last.round} was written twice`);
  }
  process.stdout.write(`ready ${last ? last.round + 1 : 0}\n`);
  for (let round = last ? last.round + 1 : 0; round <= target; round++) {
    await ledger.commitRound(crashRound(round));
    process.stdout.write(`ack ${round}\n`);
  }
  await sql.close();
  process.stdout.write('done\n');
}

const [dataDir, keyFile, target] = process.argv.slice(2);
if (dataDir && keyFile && target) {
  main(dataDir, keyFile, Number(target)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
