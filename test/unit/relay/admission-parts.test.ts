// The parts the relay's admission is built from (relay/limits/, relay/swarm/name-registry.ts):
// where a connection comes from and which network it counts against, live counts per key,
// per-window quotas that roll over and stay bounded, and the name registry.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../../relay/limits/bounded-map.ts';
import { clientAddressOf, parseClientAddress } from '../../../relay/limits/client-address.ts';
import { LiveCount } from '../../../relay/limits/live-count.ts';
import { WindowQuota } from '../../../relay/limits/window-quota.ts';
import { NameRegistry } from '../../../relay/swarm/name-registry.ts';

describe('client addresses', () => {
  it('counts IPv4 against its /24 and IPv6 against its /48, however it is written', () => {
    expect(parseClientAddress('203.0.113.7')).toEqual({ address: '203.0.113.7', prefix: '203.0.113.0/24' });
    expect(parseClientAddress('::ffff:203.0.113.7')).toEqual(parseClientAddress('203.0.113.7'));
    expect(parseClientAddress('2001:db8:1:a::1')).toEqual({
      address: '2001:db8:1:a:0:0:0:1',
      prefix: '2001:db8:1::/48',
    });
    expect(parseClientAddress('[2001:0DB8:0001:000b::2]')?.prefix).toBe('2001:db8:1::/48');
    expect(parseClientAddress('2001:db8:2::1')?.prefix).toBe('2001:db8:2::/48');
    expect(parseClientAddress('::1')).toEqual({ address: '0:0:0:0:0:0:0:1', prefix: '0:0:0::/48' });
    expect(parseClientAddress('fe80::1%eth0')?.address).toBe('fe80:0:0:0:0:0:0:1');
    expect(parseClientAddress('64:ff9b::192.0.2.1')?.address).toBe('64:ff9b:0:0:0:0:c000:201');
    for (const garbage of ['', 'localhost', '1.2.3', '999.1.1.1', 'a:b:c', '1.2.3.4:80'])
      expect(parseClientAddress(garbage), garbage).toBeNull();
  });

  it('reads a proxy header only when configured, and then its last entry', () => {
    const request = (remote: string, forwarded?: string) =>
      ({
        socket: { remoteAddress: remote },
        headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
      }) as unknown as IncomingMessage;
    // Unconfigured, a claimed address is ignored.
    expect(clientAddressOf(request('198.51.100.1', '10.0.0.1'), null)?.address).toBe('198.51.100.1');
    // Configured, the proxy's own entry (the last) counts; what the client wrote before it does not.
    expect(clientAddressOf(request('127.0.0.1', '10.0.0.1, 198.51.100.9'), 'X-Forwarded-For')?.address).toBe(
      '198.51.100.9',
    );
    expect(clientAddressOf(request('127.0.0.1'), 'x-forwarded-for')).toBeNull();
    expect(clientAddressOf(request('127.0.0.1', 'nonsense'), 'x-forwarded-for')).toBeNull();
  });
});

describe('LiveCount', () => {
  it('caps each key and forgets keys at zero', () => {
    const count = new LiveCount(2);
    count.add('a');
    count.add('a');
    expect(count.hasRoom('a')).toBe(false);
    expect(count.hasRoom('b')).toBe(true);
    count.remove('a');
    expect(count.hasRoom('a')).toBe(true);
    count.remove('a');
    expect(count.size).toBe(0);
  });
});

describe('WindowQuota', () => {
  it('gives each key its limit per window, then a fresh one', () => {
    let now = 0;
    const quota = new WindowQuota(2, 3_600_000, 100, () => now);
    quota.take('a');
    quota.take('a');
    expect(quota.hasRoom('a')).toBe(false);
    expect(quota.hasRoom('b')).toBe(true);
    now += 3_599_999;
    expect(quota.hasRoom('a')).toBe(false);
    now += 1;
    expect(quota.hasRoom('a')).toBe(true);
    expect(quota.size).toBe(0);
  });

  it('holds at most maxKeys keys, dropping the one counted longest ago', () => {
    const quota = new WindowQuota(1, 3_600_000, 1_000, () => 0);
    for (let i = 0; i < 100_000; i++) quota.take(`10.0.${i >> 8}.${i & 255}`);
    expect(quota.size).toBe(1_000);
    expect(quota.hasRoom('10.0.0.0')).toBe(true); // dropped: a fresh quota, the bounded memory's price
    expect(quota.hasRoom(`10.0.${99_999 >> 8}.${99_999 & 255}`)).toBe(false);
  });
});

describe('BoundedMap', () => {
  it('drops the entry set longest ago past its capacity', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 3); // a is now the newest
    map.set('c', 4);
    expect([map.has('a'), map.has('b'), map.has('c'), map.size]).toEqual([true, false, true, 2]);
  });
});

describe('NameRegistry', () => {
  it('holds each normalized name for its first identity; the holder keeps it', () => {
    const names = new NameRegistry(100);
    names.claim('key-a', 'Alice');
    for (const other of ['Alice', 'ALICE', 'Ａｌｉｃｅ', ' alice ', 'аlice'])
      expect(names.heldByAnother('key-b', other), other).toBe('key-a');
    expect(names.heldByAnother('key-a', 'ALICE')).toBeNull(); // its own, across reconnects
    names.claim('key-b', 'ALICE'); // never displaces the holder
    expect(names.heldByAnother('key-b', 'alice')).toBe('key-a');
    expect(names.heldByAnother('key-b', 'Bob')).toBeNull();
  });

  it('holds one name per identity: taking another lets the last one go', () => {
    const names = new NameRegistry(100);
    for (const name of ['alice', 'bob', 'carol']) names.claim('squatter', name);
    expect(names.heldByAnother('key-b', 'alice')).toBeNull();
    expect(names.heldByAnother('key-b', 'bob')).toBeNull();
    expect(names.heldByAnother('key-b', 'Carol')).toBe('squatter');
    names.claim('key-b', 'alice');
    names.claim('squatter', 'alice'); // gone to another: not taken back, and carol stays its own
    expect(names.heldByAnother('squatter', 'alice')).toBe('key-b');
    expect(names.heldByAnother('key-b', 'carol')).toBe('squatter');
  });
});
