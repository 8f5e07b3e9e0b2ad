// The visible side of head-watch.ts, the same on the volunteer page and the leaderboard: a
// warning element (role="alert", so it is read out) shown once the relay's head goes
// backwards or forks, and left up: it is not the kind of news a later poll should hide.
import { describeHeadVerdict, type HeadWatch } from './head-watch.ts';

/** A handler for each head the page is served; checks run one at a time, in order. */
export function headWarning(watch: HeadWatch, warning: HTMLElement): (head: unknown) => void {
  let queue: Promise<void> = Promise.resolve();
  return (head) => {
    queue = queue
      .then(async () => {
        const text = describeHeadVerdict(await watch.observe(head));
        if (text === null) return;
        warning.textContent = text;
        warning.hidden = false;
      })
      .catch((error: unknown) => {
        // The check could not run (the relay did not answer): say so, without crying fork.
        console.warn('could not check the ledger head', error);
      });
  };
}
