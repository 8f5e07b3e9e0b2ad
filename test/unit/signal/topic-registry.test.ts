// Both sides of the subscription map stay in step, and empty topics disappear.
import { expect, it } from 'vitest';
import { type Subscriber, TopicRegistry } from '../../../relay/signal/topic-registry.ts';

const subscriber = (): Subscriber => ({ topics: new Set() });

it('subscribes, unsubscribes and forgets empty topics', () => {
  const registry = new TopicRegistry<Subscriber>();
  const [a, b] = [subscriber(), subscriber()];
  registry.subscribe(a, 'r1');
  registry.subscribe(a, 'r1'); // twice is once
  registry.subscribe(b, 'r1');
  registry.subscribe(b, 'r2');
  expect(registry.subscribers('r1')?.size).toBe(2);
  expect([...b.topics]).toEqual(['r1', 'r2']);
  registry.unsubscribe(a, 'r1');
  registry.unsubscribe(a, 'nowhere'); // harmless
  expect([...(registry.subscribers('r1') ?? [])]).toEqual([b]);
  expect(a.topics.size).toBe(0);
  registry.unsubscribeAll(b);
  registry.unsubscribeAll(b); // safe twice
  expect(registry.size).toBe(0);
  expect(registry.subscribers('r1')).toBeUndefined();
  expect(b.topics.size).toBe(0);
});
