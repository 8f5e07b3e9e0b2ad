// The page's status while its connection to the relay comes and goes (peer/reconnecting-link.ts):
// "reconnecting" with the next attempt's time, counted down each second, in amber (and the
// abandoned round's phase replaced); a final refusal as an error; once back, what comes next.
import { type LinkStatus, linkStatusText } from '../peer/reconnecting-link.ts';
import { $, fail, setText } from './page-view.ts';

const COUNTDOWN_MS = 1_000;

/** The ReconnectingLink's onStatus for the page. */
export function linkStatusView(): (status: LinkStatus) => void {
  let countdown: ReturnType<typeof setInterval> | undefined;
  return (status) => {
    clearInterval(countdown);
    $('status').classList.toggle('reconnecting', status.state === 'reconnecting');
    switch (status.state) {
      case 'connected':
        // The first connection's status is the join's own ("Preparing the model…").
        if (status.connections > 1) setText('status', linkStatusText(status));
        return;
      case 'reconnecting': {
        setText('phase', 'reconnecting'); // the round it showed was abandoned
        const show = () => setText('status', linkStatusText(status));
        show();
        countdown = setInterval(show, COUNTDOWN_MS);
        return;
      }
      case 'stopped':
        if (!status.final) return;
        fail(linkStatusText(status));
        setText('phase', 'stopped');
        $<HTMLButtonElement>('pause').disabled = true;
        return;
    }
  };
}
