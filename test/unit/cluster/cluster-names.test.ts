// Display names across relays (relay/cluster/cluster-names.ts): the first identity to use a name
// holds it run-wide, and an identity holds one name, so a single identity cannot reserve a dozen
// (an outside attack did, reconnecting under 12 names over three relays).
import { afterAll, describe, expect, it } from 'vitest';
import { openClusterNames } from '../../../relay/cluster/cluster-names.ts';
import { freshClusterPools, POSTGRES_URL } from '../../helpers/cluster-database.ts';

describe.skipIf(!POSTGRES_URL)('names held run-wide', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('holds one name per identity, and a name for its first holder', async () => {
    const {
      pools: [sqlA, sqlB],
    } = await freshClusterPools(cleanup, 2);
    if (!sqlA || !sqlB) throw new Error('two pools expected');
    // Two relays' views of the run's names; a credited volunteer holds its ledger name from the start.
    const onA = await openClusterNames(sqlA, 'run-1', [{ peerId: 'veteran', name: 'Ada' }]);
    const onB = await openClusterNames(sqlB, 'run-1', []);
    expect(await onB('newcomer', 'ADA')).toBe('veteran');

    for (const name of ['alice', 'bob', 'carol']) expect(await onA('squatter', name)).toBe('squatter');
    // Only its last name is still its own; the others are free on every relay.
    expect(await onB('someone', 'Alice')).toBe('someone');
    expect(await onB('other', 'bob')).toBe('other');
    expect(await onB('other-2', 'carol')).toBe('squatter');
    // A name taken meanwhile is not the squatter's again.
    expect(await onA('squatter', 'alice')).toBe('someone');
    expect(await onB('other-2', 'carol')).toBe('squatter');

    // Claims of one identity on two relays at the same instant still leave it one name.
    for (let i = 0; i < 10; i++) {
      await Promise.all([onA('racer', `left-${i}`), onB('racer', `right-${i}`)]);
      const held = await sqlA.query('select name_key from relay_names where peer = $1', ['racer']);
      expect(held).toHaveLength(1);
    }
  });
});
