// A relay's public address as the welcome names it (swarm-messages.ts, `relays`): the base URL a
// volunteer fails over to when its relay dies (web/src/peer/relay-rotation.ts). The list is the
// relay's input to the client, so it is held to the one shape a client can use without a second
// thought: `http(s)://host[:port]`, lowercase, no user, path, query or fragment: the form
// `new URL(u).origin` writes (which leaves out a default port). A host is a DNS name or a dotted IPv4 address; a DNS name's last
// label starts with a letter, since the URL parser (WHATWG URL, "ends in a number") reads a host
// ending in digits as IPv4 and refuses a bad one, which would make `new WebSocket()` throw. IPv6
// literals are left out: a relay reachable over IPv6 is named by its host name.
import * as v from 'valibot';

/** Relays one welcome names at most: a cluster is a handful of machines, not a directory. */
export const MAX_WELCOME_RELAYS = 16;
/** UTF-16 units of one relay URL at most, checked before the pattern runs. */
export const MAX_RELAY_URL_LENGTH = 200;

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const LAST_LABEL = '[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?';
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const HOST = `(?:(?:${LABEL}\\.)*${LAST_LABEL}|${OCTET}(?:\\.${OCTET}){3})`;
/** Anchored, and every repetition ends at a literal dot: no input makes it backtrack for long. */
const RELAY_URL_PATTERN = new RegExp(`^https?://${HOST}(?::([1-9][0-9]{0,4}))?$`);
const MAX_PORT = 65_535;

/** Whether `text` is a relay base URL a client may connect to (see the file's comment). */
export function isRelayUrl(text: unknown): text is string {
  if (typeof text !== 'string' || text.length > MAX_RELAY_URL_LENGTH) return false;
  const match = RELAY_URL_PATTERN.exec(text);
  if (!match) return false;
  const port = match[1];
  return port === undefined || Number(port) <= MAX_PORT;
}

export const RelayUrl = v.pipe(
  v.string(),
  v.check<string, string>(
    isRelayUrl,
    `a relay is http(s)://host[:port], lowercase, at most ${MAX_RELAY_URL_LENGTH} characters`,
  ),
);

export const RelayUrls = v.pipe(v.array(RelayUrl), v.maxLength(MAX_WELCOME_RELAYS));

/**
 * What a relay may put in its welcome from its own list: the valid URLs, each once, in order,
 * at most MAX_WELCOME_RELAYS. A mistyped address in the operator's configuration is left out
 * here rather than sent, since one bad entry makes every client refuse the whole welcome.
 */
export function welcomeRelays(urls: readonly string[]): string[] {
  return [...new Set(urls.filter(isRelayUrl))].slice(0, MAX_WELCOME_RELAYS);
}
