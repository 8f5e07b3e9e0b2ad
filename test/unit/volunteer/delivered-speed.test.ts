// The delivered speed counts idle time: a throttled volunteer's steps are as fast as ever, but
// it trains fewer tokens per wall-clock second, and a paused one none.
import { expect, it } from 'vitest';
import { DeliveredSpeed } from '../../../web/src/volunteer/delivered-speed.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

it('counts the tokens of the steps in the window over the window, idle time included', () => {
  const c = clock();
  const speed = new DeliveredSpeed(c.now, 10_000);
  // Steps of 128 tokens taking 100 ms each, back to back for 10 s: 1,280 tokens/s.
  for (let i = 0; i < 100; i++) {
    c.advance(100);
    speed.step(128, 100);
  }
  expect(speed.tokensPerSec()).toBeCloseTo(1280, 5);
  // The same steps at 30% duty: 100 ms working, 233 ms idle. About 30% of the speed.
  for (let i = 0; i < 30; i++) {
    c.advance(333);
    speed.step(128, 100);
  }
  // (31 steps end inside the last 10 s: the window's edge holds one more than 30.)
  expect(speed.tokensPerSec() / 1280).toBeGreaterThan(0.29);
  expect(speed.tokensPerSec() / 1280).toBeLessThan(0.32);
  // While working, it is as fast as ever.
  expect(speed.whileWorking()).toBeCloseTo(1280, 5);
});

it('falls to nothing once steps stop (a pause, the gap between rounds)', () => {
  const c = clock();
  const speed = new DeliveredSpeed(c.now, 10_000);
  for (let i = 0; i < 50; i++) {
    c.advance(200);
    speed.step(100, 200);
  }
  expect(speed.tokensPerSec()).toBe(500);
  c.advance(5_000);
  expect(speed.tokensPerSec()).toBe(250);
  c.advance(5_000);
  expect(speed.tokensPerSec()).toBe(0);
});

it('counts from the first step, not from joining, and says nothing for its first second', () => {
  const c = clock();
  const speed = new DeliveredSpeed(c.now, 10_000);
  c.advance(30_000); // joining, waiting for a first round
  expect(speed.tokensPerSec()).toBe(0);
  c.advance(100);
  speed.step(128, 100);
  expect(speed.tokensPerSec()).toBe(0);
  // Before the window fills, the tokens are spread over the time since the first step began.
  c.advance(1_900);
  expect(speed.tokensPerSec()).toBe(64);
});
