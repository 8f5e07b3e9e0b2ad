// The volunteer page's buttons and slider: "Donate my GPU" (remembered across reloads, so a
// reload resumes donating), pause, and the throttle that sets the engine's duty cycle.
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import type { Volunteer } from '../peer/volunteer.ts';
import { $, setText } from './page-view.ts';

/** Remembers across reloads that this tab was donating, so a reload resumes. */
const DONATING_KEY = 'potluck:donating';

/** Enables "Donate my GPU"; `join` runs on a click (at once if this tab was donating). */
export function offerDonation(join: () => Promise<void>, fail: (error: unknown) => void): void {
  const donate = $<HTMLButtonElement>('donate');
  donate.disabled = false;
  donate.addEventListener('click', () => {
    donate.disabled = true;
    localStorage.setItem(DONATING_KEY, '1');
    join().catch((error: unknown) => {
      fail(error);
      donate.disabled = false;
    });
  });
  if (localStorage.getItem(DONATING_KEY) === '1') donate.click();
}

/**
 * Pause (of the volunteer on the current connection) and the throttle, in a DiLoCo run; `view`
 * shows the pause (round-view.ts).
 */
export function setupControls(
  volunteer: Pick<Volunteer, 'setPaused'>,
  engine: VolunteerEngine,
  view: { setPaused(paused: boolean): void },
): void {
  const pause = $<HTMLButtonElement>('pause');
  pause.disabled = false;
  let paused = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    void volunteer.setPaused(paused);
    view.setPaused(paused);
    setText('status', paused ? 'Paused: your GPU is idle. The run goes on without you.' : 'Resumed.');
    if (paused) localStorage.removeItem(DONATING_KEY);
    else localStorage.setItem(DONATING_KEY, '1');
  });
  const throttle = $<HTMLInputElement>('throttle');
  throttle.addEventListener('input', () => {
    const duty = Number(throttle.value) / 100;
    setText('throttle-value', `${throttle.value}%`);
    void engine.setDutyCycle(duty);
  });
}

/**
 * A stage cannot pause: its microbatches would stall every other stage. Leaving (closing the
 * tab) hands them to a replica of the stage instead.
 */
export function disableThrottle(): void {
  setText('throttle-value', 'n/a in a pipeline run');
  $<HTMLInputElement>('throttle').disabled = true;
}
