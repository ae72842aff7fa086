import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestKiln, errorCode, gql } from './support/test-kiln';
import { CREATE_BACKUP, finishedJob, parseBackupFile, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { eventually } from './support/until';

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(1500);
});
afterAll(async () => s?.close());

const partials = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.partial')) : []);

async function recordOf(backupId: string) {
  return (await s.db.query('SELECT upper(status) AS status, error FROM backup_records WHERE id = $1', [backupId])).rows[0];
}

it('refuses at once with STORAGE_UNAVAILABLE when BACKUP_DIR cannot be written, creating nothing', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-nodir-')), 'a-file');
  writeFileSync(file, '');
  const other = await startTestKiln({ BACKUP_DIR: path.join(file, 'backups') }, s.kiln.databaseUrl);
  try {
    const before = (await s.db.query('SELECT count(*)::int AS n FROM backup_records')).rows[0].n;
    const res = await gql(other.url, CREATE_BACKUP, {}, s.token);
    expect(errorCode(res)).toBe('STORAGE_UNAVAILABLE');
    expect(res.errors![0].message).toContain('not writable');
    expect((await s.db.query('SELECT count(*)::int AS n FROM backup_records')).rows[0].n).toBe(before);
    // No lease was left behind: the next backup starts.
    const ok = await startBackup(s);
    expect((await finishedJob(s, ok.jobId)).status).toBe('COMPLETED');
  } finally {
    await other.close();
  }
});

describe('a disk that fills up mid-write', () => {
  const mountPoint = mkdtempSync(path.join(tmpdir(), 'kiln-full-'));
  let mounted = false;
  beforeAll(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mountPoint], { stdio: 'ignore' });
      mounted = true;
    } catch {
      console.warn('disk-full test skipped: cannot mount a tmpfs here (needs root)');
    }
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', [mountPoint]);
  });

  it('fails the backup with the reason and leaves no file', async () => {
    if (!mounted) return;
    const dir = path.join(mountPoint, 'backups');
    mkdirSync(dir);
    const other = await startTestKiln({ BACKUP_DIR: dir }, s.kiln.databaseUrl);
    try {
      const res = await gql(other.url, CREATE_BACKUP, { i: { includeAuditLogs: true } }, s.token);
      const jobId = res.data!.createBackup.id;
      await other.services.jobs.settled(jobId);
      const job = (await gql(other.url, '{ jobs(limit: 1) { id status error errorCode backup { id status error fileSize } } }', {}, s.token)).data!.jobs[0];
      // A full disk is named, not masked: the operator can act on it.
      expect(job).toMatchObject({ id: jobId, status: 'FAILED', errorCode: 'STORAGE_UNAVAILABLE', backup: { status: 'FAILED' } });
      expect(job.error).toMatch(/ENOSPC|no space/i);
      expect(job.backup.error).toMatch(/ENOSPC|no space/i);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

it('fails cleanly when the database connection is cut mid-export, and the next backup works', async () => {
  // A failure nothing in Kiln foresaw: the client gets INTERNAL and a reference, the log the details under it.
  const logs: Array<Record<string, any>> = [];
  const logged = await startTestKiln({}, s.kiln.databaseUrl, logs);
  const t = { ...s, kiln: logged };
  try {
    const { jobId, backupId } = await startBackup(t, { includeAuditLogs: true });
    let killed = 0;
    // Polled every few milliseconds: the export of a small database is short. Only this
    // database's: the other workers' exports run on the same server (cutting them failed their
    // backups, restores and drills with INTERNAL, now and then, in files that had done nothing wrong).
    await eventually('the export\'s COPY to be cut, or the backup to end', async () => {
      const { rows } = await s.db.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'COPY (SELECT row_to_json%' AND pid <> pg_backend_pid()`,
      );
      killed += rows.length;
      return killed > 0 || (await recordOf(backupId)).status !== 'IN_PROGRESS';
    }, 30_000, 5);
    expect(killed).toBeGreaterThan(0);
    const job = await finishedJob(t, jobId);
    expect(job.status).toBe('FAILED');
    const { errorCode: code } = (await gql(logged.url, 'query($id: ID!) { job(id: $id) { errorCode } }', { id: jobId }, s.token)).data!.job;
    expect(code).toBe('INTERNAL');
    const reference = /^Internal server error \(reference ([0-9a-f-]{36})\)$/.exec(job.error)?.[1];
    expect(reference).toBeDefined();
    const logLine = logs.find((l) => l.reference === reference);
    expect(logLine).toMatchObject({ level: 'error', msg: 'backup failed', jobId, kind: 'BACKUP' });
    expect(logLine!.err.message).toMatch(/terminat|connection/i);
    expect(logLine!.err.stack).toContain(logLine!.err.message);
    // The backup's own record says the same, not the raw message.
    expect(await recordOf(backupId)).toMatchObject({ status: 'FAILED', error: job.error });
    expect(partials(logged.backupDir)).toEqual([]);
    expect((await finishedJob(t, (await startBackup(t)).jobId)).status).toBe('COMPLETED');
  } finally {
    await logged.close();
  }
});

it('cancels a running backup: CANCELLED job, FAILED record with the reason, no file', async () => {
  const { jobId, backupId } = await startBackup(s, { includeAuditLogs: true });
  const res = await gql(s.kiln.url, 'mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: jobId }, s.token);
  expect(res.errors).toBeUndefined();
  const job = await finishedJob(s, jobId);
  expect(job.status).toBe('CANCELLED');
  expect(job.backup).toMatchObject({ status: 'FAILED', error: expect.stringContaining('cancelled') });
  expect(await recordOf(backupId)).toMatchObject({ status: 'FAILED' });
  expect(partials(s.kiln.backupDir)).toEqual([]);
  const files = readdirSync(s.kiln.backupDir);
  expect(files.some((f) => f.includes(backupId))).toBe(false);
});

it('holds a consistent snapshot while the lending app writes: no allocation without its repayment', async () => {
  const [{ loanId, receivedByUserId }] = (await s.db.query(
    `SELECT "loanId", "receivedByUserId" FROM "Repayment" LIMIT 1`,
  )).rows.map((r) => ({ loanId: r.loanId, receivedByUserId: r.receivedByUserId }));
  const items = (await s.db.query(`SELECT id FROM "RepaymentScheduleItem" WHERE "loanId" = $1 LIMIT 2`, [loanId])).rows.map((r) => r.id);
  expect(items.length).toBe(2);

  let writing = true;
  let written = 0;
  const writer = (async () => {
    while (writing) {
      const id = `w${written}`;
      await s.db.query('BEGIN');
      await s.db.query(`INSERT INTO "Repayment" (id, "loanId", "receivedByUserId", amount, "paidAt", method, "updatedAt") VALUES ($1, $2, $3, 300.00, now(), 'CASH', now())`, [id, loanId, receivedByUserId]);
      await s.db.query(`INSERT INTO "RepaymentAllocation" (id, "repaymentId", "scheduleItemId", amount) VALUES ($1, $2, $3, 100.00), ($4, $2, $5, 200.00)`, [`${id}a`, id, items[0], `${id}b`, items[1]]);
      await s.db.query('COMMIT');
      written++;
    }
  })();
  let writtenDuring: number;
  try {
    await eventually('the writer\'s first commit', () => written > 0, 30_000, 5);
    const { jobId } = await startBackup(s);
    const before = written;
    const job = await finishedJob(s, jobId);
    writtenDuring = written - before;
    expect(job.status).toBe('COMPLETED');
  } finally {
    writing = false;
    await writer;
  }
  // The writer committed while the backup read: a non-snapshot read would split some pairs.
  expect(writtenDuring).toBeGreaterThan(5);
  const latest = (await s.db.query(`SELECT filename FROM backup_records WHERE status = 'completed' ORDER BY "createdAt" DESC LIMIT 1`)).rows[0].filename;
  const doc = parseBackupFile(path.join(s.kiln.backupDir, latest));
  const repayments = new Map<string, number>(doc.data.Repayment.map((r: { id: string; amount: number }) => [r.id, r.amount]));
  const allocated = new Map<string, number>();
  for (const a of doc.data.RepaymentAllocation as Array<{ repaymentId: string; amount: number }>) {
    expect(repayments.has(a.repaymentId)).toBe(true);
    allocated.set(a.repaymentId, Math.round(((allocated.get(a.repaymentId) ?? 0) + a.amount) * 100) / 100);
  }
  for (const [id, amount] of repayments) if (id.startsWith('w')) expect(allocated.get(id)).toBe(amount);
});
