// What a subscriber receives for a publish: the publisher's own JSON with `"clients": n` (the
// topic's subscriber count) added, as y-webrtc's server sends it. We splice the text once per
// publish instead of re-stringifying the object once per receiver as y-webrtc does.
import type { PublishMessage } from '../../protocol/signal-messages.ts';

/**
 * `text` must be the JSON that parsed as `message` (so a JSON object with at least `type` and
 * `topic`, whose last `}` closes it; whitespace after it is dropped).
 */
export function withClientCount(text: string, message: PublishMessage, clients: number): string {
  // A publisher that sent its own `clients` gets it overwritten, like y-webrtc's
  // `message.clients = n`; re-serializing here avoids a duplicate key.
  if (Object.hasOwn(message, 'clients')) return JSON.stringify({ ...message, clients });
  const end = text.lastIndexOf('}');
  return `${text.slice(0, end)},"clients":${clients}}`;
}
