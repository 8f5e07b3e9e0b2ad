// The ICE servers volunteers use to open WebRTC connections, handed out in each /swarm
// challenge. STUN is public. TURN relays traffic, so its credentials are short-lived, made
// per connection with the shared secret of coturn's REST API scheme
// (draft-uberti-behave-turn-rest-00): username = "<expiry unix seconds>:potluck",
// credential = base64(HMAC-SHA1(secret, username)). A leaked credential expires on its own.
import { createHmac } from 'node:crypto';
import type { IceServer } from '../protocol/swarm-messages.ts';

export interface IceConfig {
  readonly stunUrls: readonly string[];
  readonly turnUrls: readonly string[];
  /** coturn's `static-auth-secret`; TURN is left out when it is missing. */
  readonly turnSecret: string | null;
  /** How long a TURN credential stays valid. */
  readonly turnTtlSeconds: number;
}

export const NO_ICE: IceConfig = { stunUrls: [], turnUrls: [], turnSecret: null, turnTtlSeconds: 3600 };

export function iceServersFor(config: IceConfig, nowMs: number): IceServer[] {
  const servers: IceServer[] = [];
  if (config.stunUrls.length > 0) servers.push({ urls: [...config.stunUrls] });
  if (config.turnUrls.length > 0 && config.turnSecret) {
    const username = `${Math.floor(nowMs / 1000) + config.turnTtlSeconds}:potluck`;
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64');
    servers.push({ urls: [...config.turnUrls], username, credential });
  }
  return servers;
}
