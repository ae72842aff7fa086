import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DownloadTokenService } from '../src/auth/token.service';
import { gql, loginToken, TEST_JWT_SECRET } from './support/test-kiln';
import { finishedJob, JOB_QUERY, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { Client } from 'pg';
import bcrypt from 'bcryptjs';

let s: SeededKiln;
let backup: { id: string; filename: string; fileSize: number; checksum: string; fileChecksum: string; downloadUrl: string };
let fileBytes: Buffer;

beforeAll(async () => {
  s = await startSeededKiln(60, { DOWNLOAD_URL_TTL: '10' });
  backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  fileBytes = readFileSync(path.join(s.kiln.backupDir, backup.filename));
});
afterAll(async () => s?.close());

const downloadPath = () => `${s.kiln.url}/backups/${backup.id}/download`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('streams the file to an admin bearer with length, disposition and its sha256 (Backup.fileChecksum) as ETag', async () => {
  const res = await fetch(downloadPath(), { headers: { authorization: `Bearer ${s.token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-length')).toBe(String(backup.fileSize));
  expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="?${backup.filename.replace(/\./g, '\\.')}"?$`));
  // What `sha256sum` of the download prints; the data checksum (inside the gzip) is another value.
  expect(backup.fileChecksum).toBe(sha(fileBytes));
  expect(backup.fileChecksum).not.toBe(backup.checksum);
  expect(res.headers.get('etag')).toBe(`"${backup.fileChecksum}"`);
  expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(backup.fileChecksum);
});

it('answers HEAD without a body and serves byte ranges', async () => {
  const head = await fetch(downloadPath(), { method: 'HEAD', headers: { authorization: `Bearer ${s.token}` } });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe(String(backup.fileSize));
  expect((await head.arrayBuffer()).byteLength).toBe(0);

  const part = await fetch(downloadPath(), { headers: { authorization: `Bearer ${s.token}`, range: 'bytes=10-109' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 10-109/${backup.fileSize}`);
  expect(Buffer.from(await part.arrayBuffer()).equals(fileBytes.subarray(10, 110))).toBe(true);

  const bad = await fetch(downloadPath(), { headers: { authorization: `Bearer ${s.token}`, range: `bytes=${backup.fileSize + 10}-` } });
  expect(bad.status).toBe(416);
  expect(bad.headers.get('content-range')).toBe(`bytes */${backup.fileSize}`);
  // The JSON error is not offered as the backup file.
  expect(bad.headers.get('content-disposition')).toBeNull();
  expect(((await bad.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
});

it('answers If-Match and If-Unmodified-Since: 412 for another version, the file for this one', async () => {
  const auth = { authorization: `Bearer ${s.token}` };
  const other = await fetch(downloadPath(), { headers: { ...auth, 'if-match': '"0000"' } });
  expect(other.status).toBe(412);
  expect(other.headers.get('content-disposition')).toBeNull();
  const same = await fetch(downloadPath(), { headers: { ...auth, 'if-match': `"0000", "${backup.fileChecksum}"` } });
  expect(same.status).toBe(200);
  expect(sha(Buffer.from(await same.arrayBuffer()))).toBe(backup.fileChecksum);
  const lastModified = same.headers.get('last-modified')!;
  const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  expect((await fetch(downloadPath(), { headers: { ...auth, 'if-unmodified-since': before } })).status).toBe(412);
  const since = await fetch(downloadPath(), { headers: { ...auth, 'if-unmodified-since': lastModified } });
  expect(since.status).toBe(200);
  await since.arrayBuffer();
});

it('lets anyone with the signed downloadUrl fetch that backup, and only that one', async () => {
  const res = await fetch(backup.downloadUrl);
  expect(res.status).toBe(200);
  expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(fileBytes));

  const token = new URL(backup.downloadUrl).searchParams.get('token')!;
  const other = await fetch(`${s.kiln.url}/backups/someone-else/download?token=${token}`);
  expect(other.status).toBe(401);
  const tampered = await fetch(`${downloadPath()}?token=${token.slice(0, -2)}xx`);
  expect(tampered.status).toBe(401);
  expect(((await tampered.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  // A download token is no session token.
  expect((await gql(s.kiln.url, '{ me { id } }', {}, token)).errors![0].extensions!.code).toBe('UNAUTHENTICATED');
});

it('signs links for DOWNLOAD_URL_TTL and refuses one past it', async () => {
  const fresh = (await gql(s.kiln.url, JOB_QUERY, { id: (await s.db.query('SELECT "jobId" FROM kiln_backup_details WHERE id = $1', [backup.id])).rows[0].jobId }, s.token)).data!.job.backup.downloadUrl;
  const token = new URL(fresh).searchParams.get('token')!;
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  expect(claims.exp - claims.iat).toBe(10);
  expect((await fetch(fresh, { method: 'HEAD' })).status).toBe(200);
  // The same link for the same backup from the gateway's own secret, its time up: no clock to wait on.
  const expired = new DownloadTokenService(TEST_JWT_SECRET, -1).sign(backup.id).token;
  const res = await fetch(`${downloadPath()}?token=${expired}`);
  expect(res.status).toBe(401);
  expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
});

it('refuses no token, a non-admin, unknown ids and unfinished backups with typed JSON errors', async () => {
  const none = await fetch(downloadPath());
  expect(none.status).toBe(401);
  expect(((await none.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');

  const db = new Client({ connectionString: s.kiln.databaseUrl });
  await db.connect();
  await db.query(`INSERT INTO "User" (id, email, "passwordHash", role, "updatedAt") VALUES ('dl-admin', 'dl@kiln.test', $1, 'ADMIN', now())`, [await bcrypt.hash('download-password', 4)]);
  const token = await loginToken(s.kiln.url, 'dl@kiln.test', 'download-password');
  await db.query(`UPDATE "User" SET role = 'SUPERVISOR' WHERE id = 'dl-admin'`);
  await db.end();
  const forbidden = await fetch(downloadPath(), { headers: { authorization: `Bearer ${token}` } });
  expect(forbidden.status).toBe(403);

  const unknown = await fetch(`${s.kiln.url}/backups/nope/download`, { headers: { authorization: `Bearer ${s.token}` } });
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');

  await s.db.query(`INSERT INTO backup_records (id, filename, "fileSize", location, type, status) VALUES ('failed-one', 'x.json', 0, 'local', 'manual', 'failed')`);
  const failed = await fetch(`${s.kiln.url}/backups/failed-one/download`, { headers: { authorization: `Bearer ${s.token}` } });
  expect(failed.status).toBe(409);
  const listed = await gql(s.kiln.url, '{ backup(id: "failed-one") { downloadUrl } }', {}, s.token);
  expect(listed.data).toEqual({ backup: { downloadUrl: null } });
});
