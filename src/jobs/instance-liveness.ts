import type { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { dedicatedClient } from '../db/data-source';
import type { Logger } from '../logging/logger';

/** The advisory-lock key of an instance: a 64-bit hash of its id, in a namespace of Kiln's own. */
const KEY = `hashtextextended('kiln-instance:' || $1, 0)`;
const RECONNECT_MS = 1000;

/**
 * Whether a gateway instance is alive, asked of the database rather than of pids (a pid says
 * nothing across containers that share a host name and a data folder): each instance holds a
 * session-level advisory lock keyed by its id, on a connection of its own, for its lifetime. An
 * instance is provably gone when its lock can be taken: PostgreSQL dropped its session (a killed
 * process's socket closes at once; a lost host's once the server notices). A database that does
 * not enforce advisory locks (CockroachDB) is detected at start and then proves nobody gone: their
 * jobs wait for the lease TTL.
 */
export class InstanceLiveness {
  private client?: Client;
  private closed = false;
  private retry?: NodeJS.Timeout;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly instanceId: string,
    private readonly logger: Logger,
    /** False when the database let us take our own lock from a second session: its verdicts mean nothing. */
    private enforced: boolean,
  ) {}

  /** Takes this instance's lock (on a connection outside the pool) and checks that the database enforces it. */
  static async hold(dataSource: DataSource, instanceId: string, logger: Logger): Promise<InstanceLiveness> {
    const liveness = new InstanceLiveness(dataSource, instanceId, logger, false);
    try {
      await liveness.lock();
      liveness.enforced = !(await liveness.free(instanceId));
    } catch (err) {
      logger.warn({ err }, 'advisory locks unavailable: a restarted instance cannot prove an earlier one gone (its jobs wait for the lease TTL)');
    }
    if (!liveness.enforced) logger.warn('the database does not enforce advisory locks: no instance is judged gone before its lease TTL');
    return liveness;
  }

  /** The instances among `ids` that are provably gone (none while this one cannot tell). */
  async goneAmong(ids: readonly string[]): Promise<string[]> {
    if (!this.enforced || !this.client) return [];
    const gone: string[] = [];
    for (const id of ids) if (id !== this.instanceId && (await this.free(id))) gone.push(id);
    return gone;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Whether `id`'s lock is free: taken for the statement's own transaction only, so nothing stays held. */
  private async free(id: string): Promise<boolean> {
    const [row] = (await this.dataSource.query(`SELECT pg_try_advisory_xact_lock(${KEY}) AS free`, [id])) as Array<{ free: boolean }>;
    return row.free;
  }

  private async lock(): Promise<void> {
    const client = dedicatedClient(this.dataSource, 'kiln-instance');
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`SELECT pg_advisory_lock(${KEY})`, [this.instanceId]);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.client = client;
  }

  /** The lock went with its connection (a database restart): take it again, every second until it is back. */
  private lost(client: Client, err?: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.logger.warn({ err }, 'lost the connection holding this instance\'s liveness lock; taking it again');
    const again = (): void => {
      this.retry = setTimeout(() => {
        if (this.closed) return;
        this.lock().catch(() => again());
      }, RECONNECT_MS);
      this.retry.unref();
    };
    again();
  }
}
