// Who a connection comes from, for the per-address and per-network caps (swarm/admission.ts):
// the socket's peer address, or, behind a reverse proxy the operator names, the last entry of
// the header that proxy writes (the address the proxy itself saw; entries before it are
// whatever the client claimed). A header is trusted only when configured: otherwise anyone
// could claim any address and walk around every cap.
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** An address and the network it counts against: its /24 (IPv4) or /48 (IPv6). */
export interface ClientAddress {
  readonly address: string;
  readonly prefix: string;
}

/** IPv4 addresses carried in IPv6 (a dual-stack socket's `::ffff:a.b.c.d`) count as IPv4. */
const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `raw` as a ClientAddress, or null when it is not an IP address. */
export function parseClientAddress(raw: string): ClientAddress | null {
  const text = raw
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, ''); // brackets, zone index
  const v4 = MAPPED_V4.exec(text)?.[1] ?? text;
  if (isIPv4(v4)) return { address: v4, prefix: `${v4.split('.').slice(0, 3).join('.')}.0/24` };
  if (!isIPv6(text)) return null;
  const groups = ipv6Groups(text);
  const address = groups.join(':');
  return { address, prefix: `${groups.slice(0, 3).join(':')}::/48` };
}

/** The eight groups of an IPv6 address, each as lowercase hex without leading zeros. */
function ipv6Groups(text: string): string[] {
  let tail = text.toLowerCase();
  const embedded = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(tail)?.[1]; // e.g. 64:ff9b::192.0.2.1
  if (embedded) {
    const [a, b, c, d] = embedded.split('.').map(Number) as [number, number, number, number];
    tail = `${tail.slice(0, -embedded.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = tail.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/**
 * The address of `request`'s client: the socket's, or with `trustedHeader` (e.g.
 * 'x-forwarded-for') the last address in that header. Null when none can be told.
 */
export function clientAddressOf(
  request: IncomingMessage,
  trustedHeader: string | null,
): ClientAddress | null {
  if (trustedHeader === null) {
    const remote = request.socket.remoteAddress;
    return remote ? parseClientAddress(remote) : null;
  }
  const value = request.headers[trustedHeader.toLowerCase()];
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  const last = text?.split(',').pop();
  return last ? parseClientAddress(last) : null;
}
