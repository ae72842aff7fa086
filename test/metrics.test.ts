/**
 * GET /metrics: scraped from two instances on one database (a bearer token on one, the loopback
 * METRICS_PORT on the other), parsed with a Prometheus text parser, and held to the database's
 * own answers after backups, a failure, a verify that fails, a drill and a restore.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
// No types are published for the parser: it returns families of { name, type, metrics: [{ value, labels }] }.
const parsePrometheus: (text: string) => Array<{ name: string; type: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }> = require('parse-prometheus-text-format');
import { inMaintenance, RESTORE } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { gql, startTestKiln, type TestKiln } from './support/test-kiln';

const METRICS_TOKEN = 'metrics-token-for-the-test-0123456789';
let s: SeededKiln;
let other: TestKiln;
beforeAll(async () => {
  s = await startSeededKiln(10, { METRICS_TOKEN });
  other = await startTestKiln({ METRICS_PORT: '0', DATA_DIR: s.kiln.dataDir, BACKUP_DIR: s.kiln.backupDir }, s.kiln.databaseUrl);
});
afterAll(async () => {
  await other?.close();
  await s?.close();
});

type Series = Map<string, number>;
/** Every sample as `name{label="value",…}` (labels sorted) → value. */
function samples(text: string): Series {
  const out: Series = new Map();
  for (const family of parsePrometheus(text)) {
    for (const m of family.metrics) {
      const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(',');
      out.set(labels ? `${family.name}{${labels}}` : family.name, Number(m.value));
    }
  }
  return out;
}
async function scrape(url: string, token?: string): Promise<Series> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples(await res.text());
}
const fromDb = async (sql: string, params: unknown[] = []) => (await s.db.query(sql, params)).rows[0];
const unix = (d: Date) => d.getTime() / 1000;
const run = async (query: string, variables: Record<string, unknown> = {}) => {
  const res = await gql(s.kiln.url, query, variables, s.token);
  expect(res.errors).toBeUndefined();
  return res.data!;
};

it('reports what the database holds after backups, a failure, verifies, a drill and a restore, alike on both instances', async () => {
  const first = await finishedJob(s, (await startBackup(s)).jobId);
  await s.kiln.services.jobs.settled((await run('mutation($id: ID!) { verifyBackup(id: $id, restoreDrill: true) { id } }', { id: first.backup.id })).verifyBackup.id);
  // A scheduled restore drill (a DRILL job), as its timer starts it.
  await s.kiln.services.jobs.settled((await s.kiln.services.verify.scheduledDrill()).id);
  await inMaintenance(s.kiln.url, s.token, (token) => (s.token = token), async () => {
    await s.kiln.services.jobs.settled((await run(RESTORE, { id: first.backup.id })).restoreBackup.id);
  });
  // A second backup whose file is then damaged: its verify fails.
  const second = await finishedJob(s, (await startBackup(s)).jobId);
  writeFileSync(path.join(s.kiln.backupDir, second.backup.filename), 'damaged');
  await s.kiln.services.jobs.settled((await run('mutation($id: ID!) { verifyBackup(id: $id) { id } }', { id: second.backup.id })).verifyBackup.id);
  await s.db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status, error, "createdAt") VALUES ('m-failed', 'x.json', 0, 'local', 'manual', 'failed', 'disk full', now())`);
  try {
    const m = await scrape(`${s.kiln.url}/metrics`, METRICS_TOKEN);
    const counts = (await s.db.query(`SELECT coalesce(d.kind, upper(r.type)) AS type, upper(r.status) AS status, upper(r.location) AS location, count(*)::int AS n
      FROM backup_records r LEFT JOIN kiln_backup_details d ON d.id = r.id GROUP BY 1, 2, 3`)).rows;
    expect(counts.length).toBeGreaterThan(1);
    for (const c of counts) expect([c, m.get(`kiln_backups{location="${c.location}",status="${c.status}",type="${c.type}"}`)]).toEqual([c, c.n]);

    const lastManual = await fromDb(`SELECT max(d."completedAt") AS at FROM backup_records r JOIN kiln_backup_details d ON d.id = r.id WHERE d.kind = 'MANUAL' AND r.status = 'completed'`);
    expect(m.get('kiln_backup_last_success_timestamp_seconds{type="MANUAL"}')).toBeCloseTo(unix(lastManual.at), 3);
    expect(m.get('kiln_backup_last_success_age_seconds{type="MANUAL"}')).toBeGreaterThanOrEqual(0);
    expect(m.get('kiln_backup_last_size_bytes{type="MANUAL"}')).toBe(Number(second.backup.fileSize));
    expect(m.get('kiln_backup_failures_last_24h')).toBe(1);

    const jobs = (await s.db.query(`SELECT DISTINCT ON (kind) kind, status = 'COMPLETED' AND coalesce((verification->>'ok')::boolean, true) AS good, "finishedAt"
      FROM kiln_jobs WHERE "finishedAt" IS NOT NULL ORDER BY kind, "finishedAt" DESC`)).rows;
    expect(jobs.map((j) => j.kind).sort()).toEqual(['BACKUP', 'DRILL', 'RESTORE', 'VERIFY']);
    expect(m.get('kiln_job_last_success{kind="DRILL"}')).toBe(1);
    for (const j of jobs) {
      expect([j.kind, m.get(`kiln_job_last_success{kind="${j.kind}"}`)]).toEqual([j.kind, j.good ? 1 : 0]);
      expect(m.get(`kiln_job_last_finished_timestamp_seconds{kind="${j.kind}"}`)).toBeCloseTo(unix(j.finishedAt), 3);
    }
    // The verify that failed is the last VERIFY; the drill before it is its last success.
    expect(m.get('kiln_job_last_success{kind="VERIFY"}')).toBe(0);
    const drill = await fromDb(`SELECT max("finishedAt") AS at FROM kiln_jobs WHERE kind = 'VERIFY' AND (verification->>'ok')::boolean`);
    expect(m.get('kiln_job_last_success_timestamp_seconds{kind="VERIFY"}')).toBeCloseTo(unix(drill.at), 3);
    expect([...m.keys()].some((k) => k.startsWith('kiln_jobs_running'))).toBe(false);

    expect(m.get('kiln_health_healthy')).toBe(0);
    expect(m.get('kiln_health_problem{code="BACKUPS_FAILED"}')).toBe(1);
    expect([...m.keys()].filter((k) => k.startsWith('kiln_health_problem{'))).toEqual(
      ((await gql(s.kiln.url, '{ backupHealth { problemCodes } }', {}, s.token)).data!.backupHealth.problemCodes as string[]).map((c) => `kiln_health_problem{code="${c}"}`),
    );
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.get(`kiln_build_info{version="${require('../package.json').version}"}`)).toBe(1);

    // The other instance, by its loopback port without a token, tells the same (times that move aside).
    expect(other.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const o = await scrape(other.metricsUrl!);
    const shared = (series: Series) => [...series].filter(([k]) => k.startsWith('kiln_') && !k.includes('_age_seconds') && !k.startsWith('kiln_job_lease_held'));
    expect(shared(o)).toEqual(shared(m));
  } finally {
    await s.db.query(`DELETE FROM backup_records WHERE id = 'm-failed'`);
  }
});

it('counts retention deletions from the audit trail and cloud copy failures from the records', async () => {
  // A backup of this test's own, whose cloud copy is then said to have failed.
  const { backup } = await finishedJob(s, (await startBackup(s)).jobId);
  await s.db.query(`INSERT INTO "AuditLog" (id, action, "entityName", "entityId", metadata) VALUES ('ret-1', 'RETENTION_APPLIED', 'Job', 'j', '{"source":"kiln","deleted":[{"id":"a"},{"id":"b"}]}')`);
  try {
    const m = await scrape(`${s.kiln.url}/metrics`, METRICS_TOKEN);
    const deleted = await fromDb(`SELECT coalesce(sum(jsonb_array_length(metadata->'deleted')), 0)::int AS n FROM "AuditLog" WHERE action = 'RETENTION_APPLIED' AND metadata->>'source' = 'kiln'`);
    expect(deleted.n).toBeGreaterThanOrEqual(2);
    expect(m.get('kiln_retention_deleted_backups')).toBe(deleted.n);
    await s.db.query(`UPDATE kiln_backup_details SET "cloudError" = 'timeout' WHERE id = $1`, [backup.id]);
    expect((await scrape(`${s.kiln.url}/metrics`, METRICS_TOKEN)).get('kiln_backup_cloud_copy_failures')).toBe(1);
  } finally {
    await s.db.query(`UPDATE kiln_backup_details SET "cloudError" = NULL WHERE id = $1`, [backup.id]);
    await s.db.query(`DELETE FROM "AuditLog" WHERE id = 'ret-1'`);
  }
});

it('keeps the last retention figure while a restore holds the audit table, and answers at once', async () => {
  const before = (await scrape(`${s.kiln.url}/metrics`, METRICS_TOKEN)).get('kiln_retention_deleted_backups');
  await whileTableLocked(s, async () => expect((await scrape(`${s.kiln.url}/metrics`, METRICS_TOKEN)).get('kiln_retention_deleted_backups')).toBe(before), 'AuditLog');
});

it.each([
  ['no token', undefined, 401, 'UNAUTHENTICATED'],
  ['a wrong token', 'not-the-metrics-token-at-all', 401, 'UNAUTHENTICATED'],
  ['an admin’s session token', 'admin', 401, 'UNAUTHENTICATED'],
])('refuses %s on the main port', async (_what, token, status, code) => {
  const bearer = token === 'admin' ? s.token : token;
  const res = await fetch(`${s.kiln.url}/metrics`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  expect(res.status).toBe(status);
  expect(((await res.json()) as any).errors[0].extensions.code).toBe(code);
});

it('is not served on the main port of an instance without METRICS_TOKEN, and the loopback port serves /metrics alone', async () => {
  const res = await fetch(`${other.url}/metrics`);
  expect(res.status).toBe(404);
  expect(((await res.json()) as any).errors[0].message).toMatch(/METRICS_TOKEN .* or METRICS_PORT/);
  expect((await fetch(other.metricsUrl!.replace('/metrics', '/graphql'))).status).toBe(404);
});
