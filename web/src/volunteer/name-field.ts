// The name the volunteer goes by on the leaderboard, in the page's name field: kept in
// IndexedDB, unique in the run (the relay refuses a name another volunteer holds, compared
// after normalization, protocol/display-name.ts), and editable when refused.
import { isShowableName } from '../../../protocol/display-name.ts';
import { MAX_NAME_LENGTH } from '../../../protocol/swarm-messages.ts';
import type { IdbVolunteerStore } from '../peer/idb-store.ts';
import { SwarmClientError } from '../peer/swarm-client.ts';
import { $, fail } from './page-view.ts';

/** Fills the field with the kept name (or one made from the key); returns how to read it. */
export async function nameField(store: IdbVolunteerStore, publicKey: string): Promise<() => Promise<string>> {
  const field = $<HTMLInputElement>('name');
  field.value = (await store.name()) ?? `tab-${publicKey.slice(0, 6)}`;
  return async () => {
    const name = field.value.trim().slice(0, MAX_NAME_LENGTH);
    if (name === '' || !isShowableName(name))
      throw new Error('choose a name of visible characters (no control, bidi or zero-width ones)');
    field.value = name;
    field.disabled = true;
    await store.setName(name);
    return name;
  };
}

/** Whether `error` is the relay refusing the name; if so, says so and hands the field back. */
export function showNameRefusal(error: unknown): boolean {
  if (!(error instanceof SwarmClientError && error.refusal === 'ERR_SWARM_NAME_TAKEN')) return false;
  const field = $<HTMLInputElement>('name');
  fail(
    `Another volunteer in this run already goes by "${field.value}" (or a name that reads the same). Choose another name and press the button again.`,
  );
  field.disabled = false;
  field.focus();
  field.select();
  return true;
}
