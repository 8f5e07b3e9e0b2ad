// Backpressure against a fake channel: writes stop above the high-water mark and resume at
// the low one, by event where the channel has it and by polling where it does not (wrtc).
import { expect, it } from 'vitest';
import { ChannelClosedError, ChannelWriter } from '../../../web/src/peer/channel-writer.ts';
import type { MeshDataChannel } from '../../../web/src/peer/mesh-simple-peer.ts';

class FakeChannel implements MeshDataChannel {
  bufferedAmount = 0;
  readyState = 'open';
  bufferedAmountLowThreshold?: number;
  readonly sent: Uint8Array[] = [];
  private readonly listeners = new Set<() => void>();
  addEventListener?: MeshDataChannel['addEventListener'];
  removeEventListener?: MeshDataChannel['removeEventListener'];

  constructor(withEvent: boolean) {
    if (!withEvent) return;
    this.bufferedAmountLowThreshold = 0;
    this.addEventListener = (_type, listener) => this.listeners.add(listener);
    this.removeEventListener = (_type, listener) => this.listeners.delete(listener);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 'open') throw new Error('InvalidStateError');
    this.sent.push(data);
    this.bufferedAmount += data.byteLength;
  }

  /** The network takes bytes; fires bufferedamountlow on crossing the threshold, as browsers do. */
  drain(bytes: number): void {
    const before = this.bufferedAmount;
    this.bufferedAmount = Math.max(0, before - bytes);
    const threshold = this.bufferedAmountLowThreshold;
    if (threshold !== undefined && before > threshold && this.bufferedAmount <= threshold)
      for (const listener of this.listeners) listener();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

it.each([
  ['with bufferedamountlow', true],
  ['by polling', false],
])('waits above the high-water mark and resumes at the low one, %s', async (_how, withEvent) => {
  const channel = new FakeChannel(withEvent);
  let waits = 0;
  const writer = new ChannelWriter(channel, { highWaterMark: 100, lowWaterMark: 40, onWait: () => waits++ });
  if (withEvent) expect(channel.bufferedAmountLowThreshold).toBe(40);
  await writer.write(new Uint8Array(60));
  await writer.write(new Uint8Array(60)); // 60 ≤ 100 before it: no wait, now 120 queued
  const third = writer.write(new Uint8Array(60));
  let done = false;
  third.then(() => {
    done = true;
  });
  await tick();
  expect(done).toBe(false);
  expect(waits).toBe(1);
  channel.drain(70); // 50 left: above the low mark, still waiting
  await tick();
  expect(done).toBe(false);
  channel.drain(10); // 40: at the low mark
  await third;
  expect(channel.sent).toHaveLength(3);
  writer.close();
});

it('rejects a waiting write when closed, and writes to a closed channel', async () => {
  const channel = new FakeChannel(true);
  const writer = new ChannelWriter(channel, { highWaterMark: 10, lowWaterMark: 5 });
  await writer.write(new Uint8Array(20));
  const waiting = writer.write(new Uint8Array(1));
  writer.close();
  writer.close();
  await expect(waiting).rejects.toBeInstanceOf(ChannelClosedError);

  const other = new FakeChannel(false);
  other.readyState = 'closing';
  await expect(
    new ChannelWriter(other, { highWaterMark: 10, lowWaterMark: 5 }).write(new Uint8Array(1)),
  ).rejects.toBeInstanceOf(ChannelClosedError);
});

it('turns a throwing send into ChannelClosedError', async () => {
  const channel = new FakeChannel(false);
  channel.send = () => {
    throw new Error('OperationError: queue full');
  };
  await expect(
    new ChannelWriter(channel, { highWaterMark: 10, lowWaterMark: 5 }).write(new Uint8Array(1)),
  ).rejects.toThrow(/queue full/);
});
