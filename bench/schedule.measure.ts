import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { scheduleJob } from 'node-schedule';
import { Client } from 'pg';
import { startKilnProcess, type KilnProcess } from '../test/support/kiln-process';
import { prepareDatabase } from './bench-databases';
import { count, ratio, verdict, type BenchContext, type ReportLine } from './bench-report';

const INSTANCES = 3;
const FIRES = 36;
const EVERY_SECONDS = 2;
const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

/**
 * SCHEDULE lines (issue #6): three gateways in their own processes on one
 * database with a CUSTOM schedule every 2 s; over 36 fires, how late each
 * scheduled backup started (the instances log lagMs: job started minus the
 * scheduled second) and whether any fire was missed or doubled. Reference, in
 * the same run: a bare node-schedule timer on the same cron in this process,
 * and how late it fires.
 */
export async function measureSchedule(ctx: BenchContext): Promise<ReportLine[]> {
  const database = await prepareDatabase(ctx.server.url, 'kiln_bench_schedule', 200);
  const db = new Client({ connectionString: database.url });
  await db.connect();
  const instances: KilnProcess[] = [];
  try {
    await db.query(`UPDATE backup_schedule_settings SET frequency = 'disabled'`).catch(() => undefined);
    for (let i = 0; i < INSTANCES; i++) {
      const dataDir = await mkdtemp(path.join(ctx.workDir, 'schedule-'));
      instances.push(
        await startKilnProcess({
          DATABASE_URL: database.url,
          JWT_SECRET,
          BACKUP_SIGNING_KEY: `${JWT_SECRET}-signing`,
          DATA_DIR: dataDir,
          BACKUP_DIR: path.join(dataDir, 'backups'),
          SCHEDULE_MIN_INTERVAL_SECONDS: '1',
          SCHEDULE_POLL_SECONDS: '1',
        }),
      );
    }
    await db.query(`DELETE FROM kiln.kiln_schedule_runs`);
    const cron = `*/${EVERY_SECONDS} * * * * *`;
    const reference: number[] = [];
    const timer = scheduleJob(cron, (fireDate: Date) => void reference.push(Date.now() - fireDate.getTime()));
    const from = new Date();
    // As the app and Kiln write it: the app's row (lowercase) and Kiln's additions beside it.
    await db.query(
      `INSERT INTO kiln.kiln_schedule_settings (id, cron, timezone, "updatedAt") VALUES ('default', $1, 'UTC', now())
       ON CONFLICT (id) DO UPDATE SET cron = $1, timezone = 'UTC', "updatedAt" = now()`,
      [cron],
    );
    await db.query(
      `INSERT INTO backup_schedule_settings (id, frequency, location, "updatedAt") VALUES ('default', 'custom', 'local', now())
       ON CONFLICT (id) DO UPDATE SET frequency = 'custom', location = 'local', "updatedAt" = now()`,
    );
    const started = () => instances.flatMap((i) => i.logs.filter((l) => l.event === 'scheduled_backup_started'));
    while (started().length < FIRES) await new Promise((r) => setTimeout(r, 200));
    await db.query(`UPDATE backup_schedule_settings SET frequency = 'disabled', "updatedAt" = now()`);
    timer.cancel();
    await new Promise((r) => setTimeout(r, 3000)); // let the last fires and polls settle

    const runs = (
      await db.query(`SELECT "scheduledFor", "backupId" FROM kiln.kiln_schedule_runs WHERE kind = 'BACKUP' AND "scheduledFor" > $1 ORDER BY 1`, [from])
    ).rows;
    const starts = started();
    const lags = starts.map((l) => l.lagMs as number).sort((a, b) => a - b);
    const refLags = reference.sort((a, b) => a - b);
    const perFire = new Map<string, number>();
    for (const l of starts) perFire.set(l.scheduledFor, (perFire.get(l.scheduledFor) ?? 0) + 1);
    const doubled = [...perFire.values()].filter((n) => n > 1).length;
    const gaps = runs.slice(1).filter((r, i) => r.scheduledFor.getTime() - runs[i].scheduledFor.getTime() !== EVERY_SECONDS * 1000).length;
    const byInstance = instances.map((i) => i.logs.filter((l) => l.event === 'scheduled_backup_started').length).join('/');
    const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
    return [
      { metric: `schedule: fires measured (${INSTANCES} instances, every ${EVERY_SECONDS} s; started per instance)`, value: `${count(starts.length)} (${byInstance})` },
      { metric: 'schedule: fires missed or doubled', value: `${gaps} / ${doubled}`, target: '0 / 0', verdict: verdict(gaps === 0 && doubled === 0) },
      { metric: 'schedule: backup start lag p50 / p95 / max', value: `${p(lags, 0.5)} / ${p(lags, 0.95)} / ${lags[lags.length - 1]} ms`, target: 'p95 < 1000 ms', verdict: verdict(p(lags, 0.95) < 1000) },
      { metric: 'reference: bare node-schedule timer lateness p50 / p95 / max', value: `${p(refLags, 0.5)} / ${p(refLags, 0.95)} / ${refLags[refLags.length - 1]} ms` },
      { metric: 'schedule: start lag p50 vs bare timer p50', value: ratio(p(lags, 0.5) / Math.max(1, p(refLags, 0.5))) },
    ];
  } finally {
    for (const instance of instances) instance.child.kill('SIGTERM');
    await Promise.all(instances.map((i) => i.exited));
    await db.end();
  }
}
