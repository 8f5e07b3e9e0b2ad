// Security headers on every page and API response. The Content-Security-Policy allows only
// what the pages need: our own scripts and workers, WebSockets back to this relay (the
// swarm and signaling endpoints; CSP3's 'self' covers ws: and wss: of this origin), and
// nothing inline. WebRTC data channels are not governed by connect-src. A run served by several
// relays adds theirs (http(s) for the API, ws(s) for /swarm): a tab fails over to them.
// Cross-Origin-Resource-Policy does not stand in the way: it governs no-cors requests only.
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { welcomeRelays } from '../../protocol/relay-url.ts';

/** `relayUrls`: the run's live relays' public base URLs, as the welcome names them. */
export function relaySecurityHeaders(relayUrls: () => readonly string[] = () => []): MiddlewareHandler {
  // Checked as a welcome's are, so nothing but bare origins reaches the header.
  const otherRelays = () =>
    welcomeRelays(relayUrls())
      .flatMap((url) => [url, url.replace(/^http/, 'ws')])
      .join(' ');
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      workerSrc: ["'self'"],
      connectSrc: ["'self'", otherRelays],
      imgSrc: ["'self'", 'data:', 'blob:'],
      styleSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: 'same-origin',
    crossOriginOpenerPolicy: 'same-origin',
    referrerPolicy: 'no-referrer',
    xFrameOptions: 'DENY',
    strictTransportSecurity: false, // the relay may run on plain http://localhost
  });
}
