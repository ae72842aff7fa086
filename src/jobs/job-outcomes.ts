import type { DataSource } from 'typeorm';
import { query } from '../db/sql';
import type { JobKind } from './job.enums';

/** What the finished jobs say, for /metrics and backup health: read-only queries of kiln_jobs and kiln_leases. */
export class JobOutcomes {
  constructor(private readonly dataSource: DataSource) {}

  /** What /metrics reports of the jobs: running per kind, each kind's last outcome, the lease. */
  async metricFacts(): Promise<JobMetricFacts> {
    const [running, last, lease] = await Promise.all([
      query<{ kind: string; n: string | number }>(this.dataSource, `SELECT kind, count(*) AS n FROM kiln_jobs WHERE status = 'RUNNING' GROUP BY kind`),
      this.lastOutcomes(),
      query<{ kind: string; heldSeconds: string | number }>(
        this.dataSource,
        `SELECT j.kind, extract(epoch FROM LOCALTIMESTAMP - j."startedAt")::float8 AS "heldSeconds"
           FROM kiln_leases l JOIN kiln_jobs j ON j.id = l."jobId" WHERE l."expiresAt" > LOCALTIMESTAMP`,
      ),
    ]);
    return {
      running: running.map((r) => ({ kind: r.kind, n: Number(r.n) })),
      last,
      lease: lease.map((l) => ({ kind: l.kind, heldSeconds: Number(l.heldSeconds) })),
    };
  }

  /** Per kind (or of one): the last finished job's outcome (the newest by finish, then id), and when one last succeeded. */
  async lastOutcomes(kind?: JobKind): Promise<KindOutcome[]> {
    const rows = await query<KindOutcome>(
      this.dataSource,
      `SELECT l.kind, l.succeeded AS "lastSucceeded", l."finishedAt" AS "lastFinishedAt", l.seconds AS "lastSeconds", l.message AS "lastMessage",
              (SELECT max("finishedAt") FROM kiln_jobs WHERE kind = l.kind AND ${SUCCEEDED}) AS "lastSuccessAt"
         FROM (SELECT DISTINCT ON (kind) kind, ${SUCCEEDED} AS succeeded, "finishedAt",
                      extract(epoch FROM "finishedAt" - "startedAt")::float8 AS seconds, coalesce(error, message) AS message
                 FROM kiln_jobs WHERE "finishedAt" IS NOT NULL ${kind ? 'AND kind = $1' : ''}
                ORDER BY kind, "finishedAt" DESC, id DESC) l`,
      kind ? [kind] : [],
    );
    return rows.map((r) => ({ ...r, lastSeconds: r.lastSeconds === null ? null : Number(r.lastSeconds) }));
  }
}

/** A job that did what it was for: completed, and (a verify) found the backup good. */
const SUCCEEDED = `(status = 'COMPLETED' AND coalesce((verification->>'ok')::boolean, true))`;

/** How the jobs of one kind last went. */
export interface KindOutcome {
  kind: string;
  lastSucceeded: boolean;
  lastFinishedAt: Date;
  lastSeconds: number | null;
  /** The last job's error, or its message (a verify's "2 of 9 checks failed"). */
  lastMessage: string | null;
  lastSuccessAt: Date | null;
}

export interface JobMetricFacts {
  running: Array<{ kind: string; n: number }>;
  last: KindOutcome[];
  /** The job holding the lease now, and for how long. */
  lease: Array<{ kind: string; heldSeconds: number }>;
}
