// The rate limiter on a clock we move by hand.
import { expect, it } from 'vitest';
import { TokenBucket } from '../../../relay/limits/token-bucket.ts';

it('allows a burst, then the rate, and never banks more than the burst', () => {
  let now = 1_000;
  const bucket = new TokenBucket(10, 3, () => now); // 10/s, burst 3
  expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  now += 100; // one token back
  expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  now += 60_000; // a long idle time refills to the burst only
  expect(Array.from({ length: 5 }, () => bucket.take())).toEqual([true, true, true, false, false]);
  now -= 5_000; // a clock stepping back neither refills nor throws
  expect(bucket.take()).toBe(false);
  now += 100;
  expect([bucket.take(), bucket.take()]).toEqual([true, false]);
});
