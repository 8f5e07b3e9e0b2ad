// Which relays of a run are up, and where volunteers reach them: each relay writes a heartbeat
// row (relay_nodes) every second; one not seen for `staleMs` is gone. The live list goes into
// every welcome, so a volunteer whose relay dies knows where else to go, and the leader lets
// go of the sessions a gone relay held (their volunteers come back through another one).
import type { Sql } from '../ledger/sql.ts';
import type { Logger } from '../logger.ts';

export interface LiveRelay {
  readonly id: string;
  readonly url: string;
}

export interface RelayRegistryOptions {
  readonly sql: Sql;
  readonly runId: string;
  readonly relayId: string;
  /** Where volunteers reach this relay (http(s)://host:port). */
  readonly url: string;
  readonly heartbeatMs: number;
  /** A relay not seen for this long is counted gone. */
  readonly staleMs: number;
  readonly log: Logger;
  /** A relay that was live is gone. */
  readonly onGone: (relayId: string) => void;
  /** The live relays' addresses changed (urls(): this relay's first). */
  readonly onChange?: (urls: string[]) => void;
}

export class RelayRegistry {
  private live: readonly LiveRelay[] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private beating: Promise<void> = Promise.resolve();

  private constructor(private readonly options: RelayRegistryOptions) {
    this.timer = setInterval(() => this.tick(), options.heartbeatMs);
  }

  /** Registers this relay, then keeps its heartbeat. */
  static async open(options: RelayRegistryOptions): Promise<RelayRegistry> {
    const registry = new RelayRegistry(options);
    await registry.beat();
    return registry;
  }

  /** Live relays, oldest first, this one included. */
  get relays(): readonly LiveRelay[] {
    return this.live;
  }

  /** Every live relay's address, this one's first: what a welcome tells a volunteer. */
  urls(): string[] {
    const own = this.options.url;
    return [own, ...this.live.map((r) => r.url).filter((url) => url !== own)];
  }

  private tick(): void {
    this.beating = this.beating
      .then(() => this.beat())
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'relay registry: heartbeat failed'));
  }

  private async beat(): Promise<void> {
    const { sql, runId, relayId, url, staleMs } = this.options;
    await sql.query(
      `insert into relay_nodes (id, run_id, url) values ($1, $2, $3)
       on conflict (id) do update set seen_at = clock_timestamp(), url = excluded.url`,
      [relayId, runId, url],
    );
    const rows = await sql.query<LiveRelay>(
      `select id, url from relay_nodes
         where run_id = $1 and seen_at > clock_timestamp() - $2::interval order by started_at, id`,
      [runId, `${Math.round(staleMs)} milliseconds`],
    );
    const now = new Set(rows.map((r) => r.id));
    for (const before of this.live) if (!now.has(before.id)) this.options.onGone(before.id);
    const changed = rows.map((r) => r.url).join(' ') !== this.live.map((r) => r.url).join(' ');
    this.live = rows;
    if (changed) this.options.onChange?.(this.urls());
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    // Gone at once, rather than after staleMs: the others stop sending it volunteers' messages.
    await this.options.sql
      .query('delete from relay_nodes where id = $1', [this.options.relayId])
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'relay registry: could not sign off'));
  }
}
