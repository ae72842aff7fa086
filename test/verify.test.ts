import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorCode, gql } from './support/test-kiln';
import { backupFileText, finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { craftBackup, fingerprint, rawBackup } from './support/restore-helpers';

const VERIFY = `mutation($id: ID!, $drill: Boolean) { verifyBackup(id: $id, restoreDrill: $drill) { id kind status } }`;

let s: SeededKiln;
let backup: { id: string; filename: string; checksum: string };
let file: string;

beforeAll(async () => {
  s = await startSeededKiln(80);
  backup = (await finishedJob(s, (await startBackup(s, { includeAuditLogs: true })).jobId)).backup;
  file = path.join(s.kiln.backupDir, backup.filename);
});
afterAll(async () => s?.close());

async function verify(drill = false) {
  const res = await gql(s.kiln.url, VERIFY, { id: backup.id, drill }, s.token);
  expect(res.errors).toBeUndefined();
  expect(res.data!.verifyBackup.kind).toBe('VERIFY');
  const id = res.data!.verifyBackup.id;
  await s.kiln.services.jobs.settled(id);
  return (await gql(s.kiln.url, `query($id: ID!) { job(id: $id) { status message verification { ok checks { name ok detail } } backup { lastVerifiedAt } } }`, { id }, s.token)).data!.job;
}

async function withFile(content: Buffer, run: () => Promise<void>) {
  const original = readFileSync(file);
  writeFileSync(file, content);
  try {
    await run();
  } finally {
    writeFileSync(file, original);
  }
}

it('passes every check on a good backup and records when', async () => {
  const job = await verify();
  expect(job.status).toBe('COMPLETED');
  expect(job.verification.ok).toBe(true);
  expect(job.verification.checks.map((c: { name: string }) => c.name)).toEqual([
    'present in LOCAL storage',
    'LOCAL size matches the record',
    'reads and decompresses',
    'checksum matches the data',
    'checksum matches the record',
    'record counts match',
  ]);
  expect(Date.now() - new Date(job.backup.lastVerifiedAt).getTime()).toBeLessThan(30_000);
});

it('runs a restore drill in a scratch schema without touching live data or needing maintenance', async () => {
  const before = await fingerprint(s.db);
  const job = await verify(true);
  expect(job.verification.ok).toBe(true);
  const drill = job.verification.checks.filter((c: { name: string }) => c.name.startsWith('restore drill: '));
  expect(drill.map((c: { name: string }) => c.name)).toContain('restore drill: RepaymentAllocation');
  expect(drill.every((c: { ok: boolean }) => c.ok)).toBe(true);
  expect(await fingerprint(s.db)).toEqual(before);
  const schemas = await s.db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kiln_drill_%'`);
  expect(schemas.rows).toEqual([]);
});

it('reports a flipped byte, a truncated file, a missing file, and keeps lastVerifiedAt', async () => {
  const last = (await verify()).backup.lastVerifiedAt;
  const text = backupFileText(file);
  const at = text.indexOf('"firstName":"') + 14;
  // The record says the file is compressed or not; keep its encoding and just change the data.
  const flipped = Buffer.from(text.slice(0, at) + (text[at] === 'x' ? 'y' : 'x') + text.slice(at + 1));
  await withFile(flipped, async () => {
    const job = await verify();
    expect(job.status).toBe('COMPLETED');
    expect(job.verification.ok).toBe(false);
    const failed = job.verification.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name);
    expect(failed).toContain('checksum matches the data');
    expect(job.backup.lastVerifiedAt).toBe(last);
    expect(job.message).toMatch(/checks failed/);
  });
  await withFile(Buffer.from(text.slice(0, text.length / 2)), async () => {
    const job = await verify();
    expect(job.verification.checks.find((c: { name: string }) => c.name === 'reads and decompresses')).toMatchObject({ ok: false });
  });
  renameSync(file, `${file}.away`);
  try {
    const job = await verify();
    expect(job.verification.checks[0]).toMatchObject({ name: 'present in LOCAL storage', ok: false });
  } finally {
    renameSync(`${file}.away`, file);
  }
});

it('catches in the drill what only PostgreSQL sees: data that does not survive a reload', async () => {
  // A jsonb value with a repeated key loads as the last one: the file and the table differ.
  const raw = await rawBackup(file);
  const crafted = await craftBackup(raw, (d) => {
    const row = JSON.stringify({ ...JSON.parse(d.AuditLog[0]), metadata: '__DUP__' });
    d.AuditLog[0] = row.replace('"__DUP__"', '{"k":1,"k":2}');
  });
  const checksum = /"checksum":\{"algorithm":"sha256","value":"([0-9a-f]{64})"\}/.exec(crafted.toString())![1];
  const original = await s.db.query(`SELECT checksum, "fileSize", compressed FROM kiln_backup_details WHERE id = $1`, [backup.id]);
  await s.db.query(`UPDATE kiln_backup_details SET checksum = $2, "fileSize" = $3 WHERE id = $1`, [backup.id, checksum, crafted.length]);
  try {
    await withFile(crafted, async () => {
      const job = await verify(true);
      expect(job.verification.ok).toBe(false);
      const failed = job.verification.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name);
      expect(failed).toEqual(['restore drill: AuditLog']);
    });
  } finally {
    await s.db.query(`UPDATE kiln_backup_details SET checksum = $2, "fileSize" = $3 WHERE id = $1`, [backup.id, original.rows[0].checksum, original.rows[0].fileSize]);
  }
});

it('answers unknown and unfinished backups with typed errors', async () => {
  expect(errorCode(await gql(s.kiln.url, VERIFY, { id: 'nope' }, s.token))).toBe('NOT_FOUND');
  await s.db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status) VALUES ('failed-b', 'x.json', 0, 'local', 'manual', 'failed')`);
  expect(errorCode(await gql(s.kiln.url, VERIFY, { id: 'failed-b' }, s.token))).toBe('CONFLICT');
  expect(errorCode(await gql(s.kiln.url, VERIFY, { id: backup.id }))).toBe('UNAUTHENTICATED');
});
