// The welcome's list of relays (protocol/relay-url.ts, swarm-messages.ts): the relay's input to
// every client, so a hostile one is refused whole with a typed error (ERR_SWARM_SCHEMA), never
// thrown: too many entries, schemes other than http(s), long strings, anything with a user, path,
// query or fragment, hosts the URL parser would refuse. Whatever is accepted is its own origin,
// so a client can open `ws(s)://` to it and fetch from it without anything throwing.
import { expect, it } from 'vitest';
import {
  isRelayUrl,
  MAX_RELAY_URL_LENGTH,
  MAX_WELCOME_RELAYS,
  welcomeRelays,
} from '../../../protocol/relay-url.ts';
import { createRng } from '../../../protocol/rng.ts';
import { parseRelayMessage } from '../../../protocol/swarm-messages.ts';

const welcome = (relays?: unknown) =>
  JSON.stringify({
    type: 'welcome',
    peerId: `${'p'.repeat(42)}g`,
    runId: 'run-1',
    configHash: 'c'.repeat(64),
    ...(relays !== undefined && { relays }),
  });

const GOOD = [
  'http://localhost:8787',
  'https://relay-1.potluck.example',
  'https://relay-1.potluck.example:8443',
  'http://127.0.0.1:1',
  'http://10.0.0.255:65535',
  'https://xn--bcher-kva.example',
];

it('parses a welcome with the relays, and one without them (an older relay)', () => {
  const parsed = parseRelayMessage(welcome(GOOD));
  expect(parsed).toMatchObject({ ok: true, value: { type: 'welcome', relays: GOOD } });
  const older = parseRelayMessage(welcome());
  expect(older.ok).toBe(true);
  expect(older.ok && older.value.type === 'welcome' && older.value.relays).toBeUndefined();
});

const HOSTILE: [string, unknown][] = [
  ['too many', Array.from({ length: MAX_WELCOME_RELAYS + 1 }, (_, i) => `http://relay-${i}.test`)],
  ['javascript:', ['javascript:alert(1)']],
  ['javascript: dressed as a host', ['javascript://relay.test/%0aalert(1)']],
  ['ws:', ['ws://relay.test']],
  ['wss:', ['wss://relay.test']],
  ['file:', ['file:///etc/passwd']],
  ['data:', ['data:text/html,<script>alert(1)</script>']],
  ['ftp:', ['ftp://relay.test']],
  ['no scheme', ['relay.test:8787']],
  ['a long host', [`https://${'a'.repeat(MAX_RELAY_URL_LENGTH)}.test`]],
  ['a label past 63', [`https://${'a'.repeat(64)}.test`]],
  ['a huge string', [`https://${'a.'.repeat(20_000)}test`]],
  ['a path', ['https://relay.test/swarm']],
  ['a trailing slash', ['https://relay.test/']],
  ['a query', ['https://relay.test?x=1']],
  ['a fragment', ['https://relay.test#x']],
  ['a user', ['https://user:pw@relay.test']],
  ['port 0', ['https://relay.test:0']],
  ['port 65536', ['https://relay.test:65536']],
  ['an empty port', ['https://relay.test:']],
  ['a port with a leading zero', ['https://relay.test:0443']],
  ['an empty host', ['https://']],
  ['an empty label', ['https://relay..test']],
  ['a hyphen at a label edge', ['https://-relay.test']],
  ['a host ending in digits, not IPv4', ['http://1.2.3.4.5']],
  ['an IPv4 octet past 255', ['http://256.1.1.1']],
  ['an IPv6 literal', ['http://[::1]:8787']],
  ['upper case', ['HTTPS://RELAY.TEST']],
  ['white space', [' https://relay.test']],
  ['a newline', ['https://relay.test\n']],
  ['a non-ASCII host', ['https://bücher.example']],
  ['a semicolon (a CSP directive)', ['https://relay.test;script-src']],
  ['not a string', [42]],
  ['null', [null]],
  ['a nested list', [['https://relay.test']]],
  ['an object', [{ href: 'https://relay.test' }]],
  ['not a list', 'https://relay.test'],
];

it.each(HOSTILE)('refuses the welcome with a typed error, never a throw: %s', (_, relays) => {
  const parsed = parseRelayMessage(welcome(relays));
  expect(parsed.ok).toBe(false);
  expect(!parsed.ok && parsed.error.code).toBe('ERR_SWARM_SCHEMA');
  expect(!parsed.ok && parsed.error.message).toMatch(/^relays/);
});

it('accepts only URLs that are their own origin, for any input', () => {
  for (const url of GOOD) expect(new URL(url).origin).toBe(url);
  const rng = createRng(11);
  const alphabet = 'htps:/.-0123456789abcxyz[]@?#:%';
  // Some start at a port, so digit runs after a colon (leading zeros, default ports) are drawn.
  const prefixes = [
    'http://',
    'https://',
    'https://a',
    'http://1',
    'http://relay.test:',
    'https://10.0.0.1:',
    '',
  ];
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let text = prefixes[rng.nextU32() % prefixes.length] as string;
    const length = rng.nextU32() % 24;
    for (let j = 0; j < length; j++) text += alphabet[rng.nextU32() % alphabet.length];
    if (!isRelayUrl(text)) continue;
    accepted++;
    const defaultPort = text.startsWith('https:') ? /:443$/ : /:80$/;
    expect(new URL(text).origin, text).toBe(text.replace(defaultPort, ''));
    expect(() => new URL(`${text.replace(/^http/, 'ws')}/swarm`), text).not.toThrow();
  }
  expect(accepted).toBeGreaterThan(100);
});

it("keeps what a relay may send of its operator's list: valid, once each, at most the cap", () => {
  expect(
    welcomeRelays(['https://a.test', 'HTTPS://B.TEST', 'https://a.test', 'ftp://c.test', 'http://d.test']),
  ).toEqual(['https://a.test', 'http://d.test']);
  const many = Array.from({ length: 40 }, (_, i) => `http://relay-${i}.test`);
  expect(welcomeRelays(many)).toEqual(many.slice(0, MAX_WELCOME_RELAYS));
});
