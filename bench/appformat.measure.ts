import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeAppBackupStream, type AppStreamResult } from './app-backup-stream';
import { kilnBackup } from './backup.measure';
import { BENCH_USER_AGENT, kilnEnv, type ChildResult } from './bench-child';
import { fingerprint, fingerprintDifferences, prepareDatabase, type BenchDatabase } from './bench-databases';
import { count, mb, ratio, seconds, verdict, type BenchContext, type ReportLine } from './bench-report';
import { compact, withClient } from './restore.measure';
import type { UploadChildReady, UploadParentAnswer, UploadRestoreChildResult, UploadRestorePhase } from './upload-restore-child';

type Figures = Omit<Extract<UploadRestoreChildResult, { ok: true }>, 'ok'>;
type UploadRestore = Figures & {
  /** Rows the job says it restored. */
  restoredRows: number | null;
  /** Tables whose content differs from the seed after the restore (and after undoing its side effects). */
  differences: string[];
  /** The restore's intended side effects, undone so the database is the seed again. */
  undone: { auditEntries: number; sessions: number; openSessions: number; benchSessions: number };
};

const RSS_LIMIT_BYTES = 200e6;
/** 3,400 members write a 54.4 MB format 1.0 file: 6,250 write 99.4 MB (185,022 rows). */
const APPFORMAT_MEMBERS = 6_250;
// The app's files carry no Kiln signature; the Kiln-format file is held to the same path, so both are allowUnsigned.
const RESTORE_FILE = 'mutation($file: Upload) { restoreBackup(file: $file, allowUnsigned: true) { id kind status } }';

/**
 * Kiln's restore of the lending app's own backup file (format 1.0) against its restore of its own
 * format, both of the same database, both uploaded through the GraphQL endpoint as an admin would
 * (multipart `restoreBackup(file:)`), each in a child of its own (time, CPU, peak RSS of the
 * gateway alone). The app's file is written from the bench database by the app's algorithm (all
 * 19 data keys, auditLogs and staffSessions included, as the Kiln backup includes them); after
 * each restore the side effects are undone and the content compared with the seed.
 *
 * Its own database, kiln_bench_appformat, seeded like the others with a member count that makes the
 * app's pretty-printed file about 100 MB (~16 KB a member); BENCH_APPFORMAT_MEMBERS=<n> for another size.
 */
export async function measureAppFormat(ctx: BenchContext): Promise<ReportLine[]> {
  const members = Number(process.env.BENCH_APPFORMAT_MEMBERS ?? APPFORMAT_MEMBERS);
  if (!Number.isSafeInteger(members) || members < 1) throw new Error(`BENCH_APPFORMAT_MEMBERS must be a positive integer, not ${process.env.BENCH_APPFORMAT_MEMBERS}`);
  const db = await prepareDatabase(ctx.server.url, 'kiln_bench_appformat', members);
  console.log(`database: kiln_bench_appformat ${db.rows} rows (${members} members)`);
  const dir = await mkdtemp(path.join(ctx.workDir, `appformat-${db.name}-`));
  try {
    const openSessions = await withClient(db.url, async (c) => (await c.query<{ id: string }>(`SELECT id FROM "StaffSession" WHERE "revokedAt" IS NULL`)).rows.map((r) => r.id));
    // The app's file first, from the seed as it stands (a Kiln backup without an actor writes no lending row, but first is safer).
    const createdAt = new Date().toISOString();
    const appFile = await writeAppBackupStream(db.url, path.join(dir, `backup_${createdAt.replace(/[:.]/g, '-')}.json`), {
      includeAuditLogs: true,
      includeSessions: true,
      createdAt,
    });
    const backup = await kilnBackup(db, dir);
    const [kilnName, ...others] = await readdir(path.join(dir, 'backups'));
    if (!kilnName || others.length) throw new Error(`expected the one Kiln backup file in ${dir}/backups, found ${[kilnName, ...others].join(', ')}`);
    const kilnFile = path.join(dir, 'backups', kilnName);
    const kilnBytes = (await stat(kilnFile)).size;

    const app = await uploadRestore(db, dir, appFile.file, {}, openSessions);
    await compact(db.url, true); // as restore.measure leaves the tables; both restores start alike
    const kiln = await uploadRestore(db, dir, kilnFile, { BENCH_DELETE_BACKUP_ID: backup.keptBackupId! }, openSessions);
    await compact(db.url, true); // as restore.measure leaves the tables; both restores start alike

    return report(db, appFile, { bytes: kilnBytes, compressed: backup.compressed }, app, kiln);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function report(db: BenchDatabase, appFile: AppStreamResult, kilnFile: { bytes: number; compressed: boolean }, app: UploadRestore, kiln: UploadRestore): ReportLine[] {
  const pair = (pick: (r: UploadRestore) => number | null, show: (v: number) => string = seconds) =>
    [app, kiln].map((r) => (pick(r) === null ? 'n/a' : show(pick(r)!))).join(' / ');
  const rss = { app: app.maxRssKb * 1024, kiln: kiln.maxRssKb * 1024 };
  const timeRatio = app.seconds / kiln.seconds;
  const restoreRatio = app.phases.restore !== null && kiln.phases.restore !== null ? app.phases.restore / kiln.phases.restore : null;
  const keys = Object.values(appFile.recordCounts).filter((n) => n > 0).length;
  return [
    {
      metric: `appformat: format 1.0 file of ${db.name}`,
      value: mb(appFile.bytes),
      target: `${count(appFile.rows)} rows, ${keys}/19 keys with rows (auditLogs, staffSessions included); Kiln's file ${mb(kilnFile.bytes)}${kilnFile.compressed ? ' gz' : ''}`,
      verdict: verdict(appFile.rows === db.rows),
    },
    { metric: "appformat: writing it (app's algorithm, streamed)", value: seconds(appFile.seconds), target: 'bench side, not Kiln' },
    {
      metric: 'appformat: rows restored (app / Kiln format)',
      value: `${count(app.restoredRows ?? NaN)} / ${count(kiln.restoredRows ?? NaN)}`,
      target: '= count(*)',
      verdict: verdict(app.restoredRows === db.rows && kiln.restoredRows === db.rows),
    },
    {
      metric: 'appformat: content after restore = seed (app / Kiln)',
      value: `${same(app.differences)} / ${same(kiln.differences)}`,
      target: 'count + digest, 19 tables',
      verdict: verdict(app.differences.length === 0 && kiln.differences.length === 0),
    },
    {
      metric: 'appformat: side effects undone (app / Kiln)',
      value: `${app.undone.auditEntries}+${kiln.undone.auditEntries} audit, ${count(app.undone.sessions)}+${count(kiln.undone.sessions)} sessions`,
      target:
        `bench audit entries; sessions revoked of ${count(app.undone.openSessions)} open` +
        (app.undone.benchSessions + kiln.undone.benchSessions ? `; ${app.undone.benchSessions}+${kiln.undone.benchSessions} bench sessions left by the child` : ''),
    },
    { metric: 'appformat: app format, upload + restore seconds', value: seconds(app.seconds), target: `CPU ${seconds(app.cpuSeconds)}` },
    { metric: 'appformat: Kiln format, upload + restore seconds', value: seconds(kiln.seconds), target: `CPU ${seconds(kiln.cpuSeconds)}` },
    { metric: 'appformat:   upload received (app / Kiln)', value: pair((r) => r.phases.upload), target: 'HTTP multipart, stored once (the graphql-upload temp file)' },
    {
      metric: 'appformat:   validation pass (app / Kiln)',
      value: pair((r) => r.phases.validate),
      target: app.phases.overlapped || kiln.phases.overlapped ? 'side by side with the safety backup' : undefined,
    },
    { metric: 'appformat:   PRE_RESTORE safety backup (app / Kiln)', value: pair((r) => r.phases.safety) },
    { metric: 'appformat:   restore phase alone (app / Kiln)', value: pair((r) => r.phases.restore), target: 'load + after load + commit' },
    { metric: 'appformat:     load (app / Kiln)', value: pair((r) => r.phases.load), target: `COPY ran ${pair((r) => r.phases.loadStatements)}` },
    { metric: 'appformat:     after load + commit (app / Kiln)', value: pair((r) => (r.phases.afterLoad === null || r.phases.commit === null ? null : r.phases.afterLoad + r.phases.commit)) },
    { metric: 'appformat: time ratio app/Kiln format', value: ratio(timeRatio), target: 'informational' },
    { metric: 'appformat: CPU ratio app/Kiln format', value: ratio(app.cpuSeconds / kiln.cpuSeconds), target: 'informational' },
    { metric: 'appformat: restore phase ratio app/Kiln', value: restoreRatio === null ? 'n/a' : ratio(restoreRatio), target: 'informational, without upload, validation, safety' },
    { metric: 'appformat: peak RSS, app format', value: mb(rss.app), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.app < RSS_LIMIT_BYTES) },
    { metric: 'appformat: peak RSS, Kiln format', value: mb(rss.kiln), target: `< ${mb(RSS_LIMIT_BYTES)}`, verdict: verdict(rss.kiln < RSS_LIMIT_BYTES) },
    { metric: 'appformat: RSS peak by phase, app format', value: byPhase(app.rssKbByPhase), target: 'upload / validate / safety / load / after load' },
    { metric: 'appformat: RSS peak by phase, Kiln format', value: byPhase(kiln.rssKbByPhase) },
    { metric: 'appformat: RSS once started (app / Kiln)', value: `${mb(app.startedRssKb * 1024)} / ${mb(kiln.startedRssKb * 1024)}` },
    {
      metric: 'appformat: peak V8 heap (app / Kiln)',
      value: `${mb(app.heapTotalKb * 1024)} / ${mb(kiln.heapTotalKb * 1024)}`,
      target: `external, buffers: ${mb(app.externalKb * 1024)} / ${mb(kiln.externalKb * 1024)}`,
    },
  ];
}

const byPhase = (kb: Partial<Record<UploadRestorePhase, number>>): string =>
  (['upload', 'validate', 'safety', 'load', 'afterLoad'] as const).map((p) => (kb[p] === undefined ? 'n/a' : ((kb[p]! * 1024) / 1e6).toFixed(0))).join(' / ') + ' MB';

const same = (differences: string[]): string => (differences.length ? `differs: ${differences.join(', ')}` : 'equal');

/**
 * Uploads `file` to a Kiln child and restores it (bench/upload-restore-child.ts); then undoes the
 * restore's intended side effects (SYSTEM_RESTORED and maintenance audit entries, revoked
 * sessions, the child's own session should one be left) and compares the content with the seed.
 */
async function uploadRestore(db: BenchDatabase, dir: string, file: string, extra: Record<string, string>, openSessions: string[]): Promise<UploadRestore> {
  const result = await runUploadChild(kilnEnv(db, dir, extra), file);
  const undone = await withClient(db.url, async (c) => {
    const audit = await c.query(`DELETE FROM "AuditLog" WHERE "userAgent" = $1`, [BENCH_USER_AGENT]);
    // The child's session goes with the restore (the file's StaffSession rows replace the table); one is left only if it failed.
    const bench = await c.query(`DELETE FROM "StaffSession" WHERE "userAgent" = $1`, [BENCH_USER_AGENT]);
    const sessions = await c.query(`UPDATE "StaffSession" SET "revokedAt" = NULL WHERE id = ANY($1) AND "revokedAt" IS NOT NULL`, [openSessions]);
    return { auditEntries: audit.rowCount ?? 0, sessions: sessions.rowCount ?? 0, openSessions: openSessions.length, benchSessions: bench.rowCount ?? 0 };
  });
  if (!result.ok) throw new Error(`Kiln restore of the upload ${path.basename(file)} into ${db.name} failed: ${result.error}`);
  const restored = /Restored (\d+) rows/.exec(result.message);
  return {
    ...result,
    restoredRows: restored ? Number(restored[1]) : null,
    differences: fingerprintDifferences(db.seeded, await fingerprint(db.url)),
    undone,
  };
}

/**
 * Forks bench/upload-restore-child.js; when it is ready, POSTs `file` to its /graphql as a
 * multipart upload (read from disk as it is sent) and tells it the job; returns its result.
 * BENCH_CPU_PROF=<dir> profiles the child as bench-child's runChild does.
 */
async function runUploadChild(env: NodeJS.ProcessEnv, file: string): Promise<ChildResult<Figures>> {
  const profDir = process.env.BENCH_CPU_PROF;
  const name = `upload-restore-child-${path.basename(file).startsWith('backup_') ? 'app' : 'kiln'}`;
  const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = fork(path.join(__dirname, 'upload-restore-child.js'), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<ChildResult<Figures>>((resolve) => {
    child.on('message', (m: UploadChildReady | ChildResult<Figures>) => {
      if ('kind' in m && m.kind === 'ready') {
        upload(m.url, m.token, file).then(
          (answer) => child.send(answer),
          (err: unknown) => child.send({ kind: 'uploadFailed', error: err instanceof Error ? err.message : String(err) } satisfies UploadParentAnswer),
        );
      } else resolve(m as ChildResult<Figures>);
    });
    child.once('exit', (code, signal) => resolve({ ok: false, error: `upload-restore-child.js exited with ${signal ?? code} without a result` }));
  });
}

/**
 * The multipart request Apollo clients send for `restoreBackup(file:)` (graphql-multipart-request-spec),
 * the file streamed from disk with node:http: fetch's FormData sends a file at a third of the speed.
 */
async function upload(url: string, token: string, file: string): Promise<UploadParentAnswer> {
  const boundary = `kiln-bench-${randomBytes(12).toString('hex')}`;
  const part = (disposition: string, type?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`;
  const head = Buffer.from(
    `${part('name="operations"')}${JSON.stringify({ query: RESTORE_FILE, variables: { file: null } })}\r\n` +
      `${part('name="map"')}${JSON.stringify({ 0: ['variables.file'] })}\r\n` +
      part(`name="0"; filename=${JSON.stringify(path.basename(file))}`, 'application/octet-stream'),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = (await stat(file)).size;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      `${url}/graphql`,
      {
        method: 'POST',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + size + tail.length,
          'apollo-require-preflight': 'true',
          authorization: `Bearer ${token}`,
          'user-agent': BENCH_USER_AGENT,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(head);
    const body = createReadStream(file, { highWaterMark: 1 << 20 });
    body.on('error', (err) => req.destroy(err));
    body.on('end', () => req.end(tail));
    body.pipe(req, { end: false });
  });
  let body: { data?: { restoreBackup?: { id: string } | null }; errors?: Array<{ message: string }> };
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'uploadFailed', error: `HTTP ${status}: ${text.slice(0, 200)}` };
  }
  const jobId = body.data?.restoreBackup?.id;
  if (jobId) return { kind: 'uploaded', jobId };
  return { kind: 'uploadFailed', error: `HTTP ${status}: ${body.errors?.map((e) => e.message).join('; ') ?? text.slice(0, 200)}` };
}
