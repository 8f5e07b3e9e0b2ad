// Who may hold a `/swarm` session (docs/ARCHITECTURE.md, "Untrusted volunteers"): identities
// cost a proof-of-work stamp (checked by the session), and on top of it each address and each
// /24 or /48 holds a bounded number of connections and may bring a bounded number of identities
// new to the relay per window. Names are unique in the run after normalization
// (name-registry.ts). Every refusal carries a stable code and a message a person can act on.

import { BoundedMap } from '../limits/bounded-map.ts';
import type { ClientAddress } from '../limits/client-address.ts';
import { LiveCount } from '../limits/live-count.ts';
import { WindowQuota } from '../limits/window-quota.ts';
import { NameRegistry } from './name-registry.ts';
import type { SwarmLimits } from './swarm-limits.ts';

export interface AdmissionRefusal {
  readonly code: 'ERR_SWARM_NAME_TAKEN' | 'ERR_SWARM_IDENTITY_RATE';
  readonly message: string;
}

export type ConnectionAdmission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly status: 429; readonly message: string };

export class SwarmAdmission {
  private readonly perAddress: LiveCount;
  private readonly perPrefix: LiveCount;
  private readonly newPerAddress: WindowQuota;
  private readonly newPerPrefix: WindowQuota;
  /** Identities that have authenticated here before (or hold credit in the run): not new. */
  private readonly known: BoundedMap<string, true>;
  readonly names: NameRegistry;
  /** The window, as a refusal says it ("per 60 minutes"). */
  private readonly window: string;

  constructor(limits: SwarmLimits, now: () => number) {
    this.perAddress = new LiveCount(limits.maxSessionsPerAddress);
    this.perPrefix = new LiveCount(limits.maxSessionsPerPrefix);
    const quota = (limit: number) =>
      new WindowQuota(limit, limits.identityWindowMs, limits.maxTrackedAddresses, now);
    this.newPerAddress = quota(limits.newIdentitiesPerAddress);
    this.newPerPrefix = quota(limits.newIdentitiesPerPrefix);
    this.known = new BoundedMap(limits.maxKnownIdentities);
    this.names = new NameRegistry(limits.maxKnownIdentities);
    this.window = `per ${Math.round(limits.identityWindowMs / 60_000)} minutes`;
  }

  /** A connection from `client`: counted until `release` (call it once, when its socket closes). */
  connect(client: ClientAddress): ConnectionAdmission {
    if (!this.perAddress.hasRoom(client.address))
      return {
        ok: false,
        status: 429,
        message: `too many connections from ${client.address} (at most ${this.perAddress.limit})`,
      };
    if (!this.perPrefix.hasRoom(client.prefix))
      return {
        ok: false,
        status: 429,
        message: `too many connections from ${client.prefix} (at most ${this.perPrefix.limit})`,
      };
    this.perAddress.add(client.address);
    this.perPrefix.add(client.prefix);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.perAddress.remove(client.address);
        this.perPrefix.remove(client.prefix);
      },
    };
  }

  /**
   * `peerId` proved its key and stamp from `client`, asking for `name` (null: it gave none).
   * Refuses a name another identity holds, and a new identity past its address's or network's
   * quota; otherwise records the identity and its name.
   */
  authenticate(client: ClientAddress, peerId: string, name: string | null): AdmissionRefusal | null {
    if (name !== null && this.names.heldByAnother(peerId, name) !== null) return nameTaken(name);
    if (!this.known.has(peerId)) {
      if (!this.newPerAddress.hasRoom(client.address))
        return {
          code: 'ERR_SWARM_IDENTITY_RATE',
          message: `${client.address} made ${this.newPerAddress.limit} new identities ${this.window}: try again later`,
        };
      if (!this.newPerPrefix.hasRoom(client.prefix))
        return {
          code: 'ERR_SWARM_IDENTITY_RATE',
          message: `${client.prefix} made ${this.newPerPrefix.limit} new identities ${this.window}: try again later`,
        };
      this.newPerAddress.take(client.address);
      this.newPerPrefix.take(client.prefix);
    }
    this.remember(peerId, name);
    return null;
  }

  /** An identity the relay knows from before (the ledger's credited peers), with its name. */
  remember(peerId: string, name: string | null): void {
    this.known.set(peerId, true);
    if (name !== null) this.names.claim(peerId, name);
  }

  /** Entries held: connections' addresses and networks, and the identity quotas' keys. */
  get tracked(): { connections: number; quotas: number; known: number } {
    return {
      connections: this.perAddress.size + this.perPrefix.size,
      quotas: this.newPerAddress.size + this.newPerPrefix.size,
      known: this.known.size,
    };
  }
}

/** The refusal of a name another identity of the run holds (here, or on another relay of it). */
export function nameTaken(name: string): AdmissionRefusal {
  return {
    code: 'ERR_SWARM_NAME_TAKEN',
    message: `another volunteer in this run already goes by "${name}" (or a name that reads the same): choose another`,
  };
}
