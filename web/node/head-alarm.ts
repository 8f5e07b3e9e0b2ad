// The headless volunteer's side of head-watch.ts: the newest signed ledger head it has seen is
// kept in its state folder, so a relay whose ledger later goes backwards or forks is called out
// even across restarts, as the page does in IndexedDB. The served chain is read from the
// relay's public ledger API to tell a fork that happened below the seen head.
import { fetchJson, PublicApi } from '../src/leaderboard/public-api.ts';
import { describeHeadVerdict, HeadWatch } from '../src/peer/head-watch.ts';
import type { FileVolunteerStore } from './file-store.ts';

/**
 * A function to give every head the relay signs: `onWarning` gets the warning text whenever
 * one goes backwards or forks. Heads are compared one at a time, in the order given.
 */
export function headAlarm(
  store: Pick<FileVolunteerStore, 'seenHead' | 'saveSeenHead'>,
  relay: string,
  onWarning: (text: string) => void,
  getJson: (url: string) => Promise<unknown> = fetchJson,
): (head: { height: number; hash: string }) => Promise<void> {
  const api = new PublicApi((path) => getJson(new URL(path, relay).href));
  const watch = new HeadWatch(
    { load: () => store.seenHead(), save: (head) => store.saveSeenHead(head) },
    (height) => api.hashAt(height),
  );
  let queue: Promise<void> = Promise.resolve();
  return (head) => {
    queue = queue.then(async () => {
      // The relay's ledger API down is no verdict: the head is not kept, the next one is compared.
      const verdict = await watch.observe(head).catch(() => ({ kind: 'same' as const }));
      const warning = describeHeadVerdict(verdict);
      if (warning) onWarning(warning);
    });
    return queue;
  };
}
