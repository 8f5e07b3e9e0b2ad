// `npm run cooldown`'s arguments: start by default, status on request, the relay and the state
// folder from flags or the environment, and a usage error for anything else.
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { parseCooldownArgs } from '../../../relay/cli/cooldown.ts';

it('starts by default, at the local relay, with the token of the state folder', () => {
  expect(parseCooldownArgs([], {})).toMatchObject({ command: 'start', relayUrl: 'http://localhost:8787' });
  expect(parseCooldownArgs([], {})?.tokenFile).toMatch(/state\/operator-token$/);
  expect(
    parseCooldownArgs(['status', '--relay', 'https://relay.example.org/', '--state', '/srv/potluck'], {}),
  ).toEqual({
    command: 'status',
    relayUrl: 'https://relay.example.org',
    tokenFile: resolve('/srv/potluck/operator-token'),
  });
  expect(
    parseCooldownArgs([], { POTLUCK_RELAY_URL: 'http://10.0.0.2:9000', POTLUCK_STATE: '/var/lib/potluck' }),
  ).toEqual({
    command: 'start',
    relayUrl: 'http://10.0.0.2:9000',
    tokenFile: resolve('/var/lib/potluck/operator-token'),
  });
  expect(parseCooldownArgs(['--help'], {})).toBeNull();
});

it('refuses other commands and stray arguments', () => {
  expect(() => parseCooldownArgs(['stop'], {})).toThrow(/start or status/);
  expect(() => parseCooldownArgs(['start', 'now'], {})).toThrow(/start or status/);
  expect(() => parseCooldownArgs(['--token', 'x'], {})).toThrow();
});
