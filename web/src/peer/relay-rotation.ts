// The relays a volunteer knows for its run, and the one it talks to now. Several relays may serve
// one run (one database, each its own public address); every welcome names the live ones, the
// sending relay's first (protocol/relay-url.ts). When the relay in use fails, the reconnecting
// link (reconnecting-link.ts) moves on to the next one, and whatever must reach the relay in use
// (the next /swarm connection, the page's HTTP API) reads `current`: a dead relay answers nothing.
import { isRelayUrl, MAX_WELCOME_RELAYS } from '../../../protocol/relay-url.ts';

/** A page or volunteer that reached the run over TLS is not moved to a relay without it. */
const downgrades = (entry: string, url: string) => entry.startsWith('https:') && url.startsWith('http:');

export class RelayRotation {
  /**
   * The relays in the order they are tried: the latest welcome's list, then the entry address
   * (a load balancer's, or a name behind DNS round robin) when the list does not name it, so a
   * list gone stale still leaves the address the volunteer was first given.
   */
  private cycle: readonly string[];
  /** The index in `cycle` of the relay in use; -1 when it is not in the cycle. */
  private position = 0;
  private address: string;

  /** `entry`: the http(s) base URL the volunteer was given (the page's origin, `--relay`). */
  constructor(private readonly entry: string) {
    this.address = entry;
    this.cycle = [entry];
  }

  /** The base URL of the relay in use, or being tried. */
  get current(): string {
    return this.address;
  }

  /** The relays known, the entry address among them. */
  get known(): readonly string[] {
    return this.cycle;
  }

  /**
   * The list the relay in use just named in its welcome (SwarmClient.relays), the sender first.
   * An empty list (a relay of one machine, an older one) leaves what is known as it is.
   */
  learn(relays: readonly string[]): void {
    const usable = relays
      .filter((url) => isRelayUrl(url) && !downgrades(this.entry, url))
      .slice(0, MAX_WELCOME_RELAYS);
    if (usable.length === 0) return;
    this.cycle = [...new Set([...usable, this.entry])];
    // The sender is the relay in use, whatever address reached it: the next one after it is tried.
    this.position = usable[0] === relays[0] ? 0 : -1;
  }

  /** Moves on to the next known relay after the one in use (the same one when it is the only one). */
  advance(): string {
    this.position = (this.position + 1) % this.cycle.length;
    this.address = this.cycle[this.position] as string;
    return this.address;
  }
}
