// The relays a volunteer knows (web/src/peer/relay-rotation.ts): it starts on the address it was
// given, learns each welcome's list (the sender first), moves on to the relay after the one in
// use, keeps the address it was given for a list gone stale, and is never moved off TLS.
import { expect, it } from 'vitest';
import { RelayRotation } from '../../../web/src/peer/relay-rotation.ts';

const A = 'https://a.relay.test';
const B = 'https://b.relay.test:8443';
const C = 'https://c.relay.test';

it('stays on the one address it was given until a welcome names others', () => {
  const relays = new RelayRotation(A);
  expect(relays.current).toBe(A);
  expect(relays.advance()).toBe(A);
  relays.learn([]); // a relay of one machine, or an older one
  expect(relays.known).toEqual([A]);
  expect(relays.advance()).toBe(A);
});

it('moves on to the relay after the sender, round the list', () => {
  const relays = new RelayRotation(A);
  relays.learn([A, B, C]);
  expect(relays.known).toEqual([A, B, C]);
  expect(relays.current).toBe(A);
  expect([relays.advance(), relays.advance(), relays.advance(), relays.advance()]).toEqual([B, C, A, B]);
  // Now on B, whose welcome names itself first: the next is the one after B in its list.
  relays.learn([B, A, C]);
  expect(relays.current).toBe(B);
  expect(relays.advance()).toBe(A);
});

it('keeps the address it was given (a load balancer) after the listed relays', () => {
  const entry = 'https://potluck.test';
  const relays = new RelayRotation(entry);
  relays.learn([B, C]); // the load balancer sent it to B
  expect(relays.known).toEqual([B, C, entry]);
  expect(relays.current).toBe(entry); // B, reached through the load balancer's address
  expect([relays.advance(), relays.advance(), relays.advance()]).toEqual([C, entry, B]);
});

it('is not moved from TLS to plain http, and drops what no welcome could have named', () => {
  const relays = new RelayRotation(A);
  relays.learn([A, 'http://b.relay.test', 'javascript:alert(1)', C, C]);
  expect(relays.known).toEqual([A, C]);
  // The sender's own entry was refused: the first usable one is next.
  const other = new RelayRotation(A);
  other.learn(['http://a.relay.test', B]);
  expect(other.advance()).toBe(B);
  // Over plain http, either kind is fine.
  const plain = new RelayRotation('http://localhost:8787');
  plain.learn(['http://localhost:8787', 'https://b.relay.test']);
  expect(plain.known).toEqual(['http://localhost:8787', 'https://b.relay.test']);
});
