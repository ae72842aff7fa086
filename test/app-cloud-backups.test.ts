/**
 * The app's cloud copies: raw uploads (delivery type `upload`, public id
 * `millenium-backups/<name>`) recorded in backup_records by `cloudinaryUrl` alone. Kiln
 * finds them through the real SDK against the local Cloudinary stand-in.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeAppBackupFile } from './support/app-backup-file';
import { startCloudinaryServer, type FakeCloudinary } from './support/cloudinary/cloudinary-server';
import { fingerprint, RESTORE } from './support/restore-helpers';
import { startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { gql, loginToken } from './support/test-kiln';

let cloud: FakeCloudinary;
let s: SeededKiln;

/** Uploads a file as the app's backup service does (SDK upload, raw, public id in its folder). */
async function appUpload(file: string): Promise<{ secure_url: string; bytes: number }> {
  const sdk = (require('cloudinary') as typeof import('cloudinary')).v2;
  return sdk.uploader.upload(file, {
    ...cloud.sdkOptions(),
    resource_type: 'raw',
    public_id: `millenium-backups/${path.basename(file)}`,
  } as never) as never;
}

beforeAll(async () => {
  cloud = await startCloudinaryServer();
  s = await startSeededKiln(20, { CLOUDINARY_URL: cloud.cloudinaryUrl });
});
afterAll(async () => {
  await s?.close();
  await cloud?.close();
});

it("lists, verifies, downloads, restores and deletes a cloud copy the app made", async () => {
  const source = await fingerprint(s.db);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-app-cloud-')), 'backup_2026-03-02T02-00-00-000Z.json');
  await writeAppBackupFile(s.db, file);
  const uploaded = await appUpload(file);
  expect(uploaded.secure_url).toContain('/raw/upload/');
  await s.db.query(
    `INSERT INTO backup_records (id, filename, "fileSize", location, "cloudinaryUrl", "localPath", type, status, "createdAt")
     VALUES ('app-cloud', $1, $2, 'cloud', $3, NULL, 'manual', 'completed', now())`,
    [path.basename(file), uploaded.bytes, uploaded.secure_url],
  );

  const listed = (await gql(s.kiln.url, `{ backup(id: "app-cloud") { origin location storedInCloud storedLocally warnings downloadUrl } }`, {}, s.token)).data!.backup;
  expect(listed).toMatchObject({ origin: 'APP', location: 'CLOUD', storedInCloud: true, storedLocally: false, warnings: [] });
  // Cloudinary's own signed, expiring link: the file's bytes.
  const viaLink = await fetch(listed.downloadUrl);
  expect(viaLink.status).toBe(200);
  expect(Buffer.from(await viaLink.arrayBuffer()).equals(readFileSync(file))).toBe(true);

  const verify = await gql(s.kiln.url, `mutation { verifyBackup(id: "app-cloud", restoreDrill: true) { id } }`, {}, s.token);
  await s.kiln.services.jobs.settled(verify.data!.verifyBackup.id);
  const verified = (await s.kiln.services.jobs.get(verify.data!.verifyBackup.id))!;
  expect(verified.verification!.checks.filter((c) => !c.ok)).toEqual([]);
  expect(verified.verification!.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['present in CLOUD storage', 'CLOUD size matches the record']));

  // A row without cloudinaryUrl is looked for where the app uploads: millenium-backups/<filename>.
  await s.db.query(
    `INSERT INTO backup_records (id, filename, "fileSize", location, type, status) VALUES ('app-cloud-no-url', $1, $2, 'cloud', 'scheduled', 'completed')`,
    [path.basename(file), uploaded.bytes],
  );
  const noUrl = await gql(s.kiln.url, `mutation { verifyBackup(id: "app-cloud-no-url") { id } }`, {}, s.token);
  await s.kiln.services.jobs.settled(noUrl.data!.verifyBackup.id);
  expect((await s.kiln.services.jobs.get(noUrl.data!.verifyBackup.id))!.verification!.checks.filter((c) => !c.ok)).toEqual([]);
  await s.db.query(`DELETE FROM backup_records WHERE id = 'app-cloud-no-url'`);

  await s.db.query(`UPDATE "Union" SET name = 'changed after the backup'`);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: true) { enabled } }', {}, s.token);
  const restore = await gql(s.kiln.url, RESTORE, { id: 'app-cloud', allowUnsigned: true }, s.token);
  await s.kiln.services.jobs.settled(restore.data!.restoreBackup.id);
  expect((await s.kiln.services.jobs.get(restore.data!.restoreBackup.id))!.error).toBeNull();
  expect((await fingerprint(s.db, ['Union', 'Loan', 'Repayment'])).Union).toBe(source.Union);
  s.token = await loginToken(s.kiln.url);
  await gql(s.kiln.url, 'mutation { setMaintenanceMode(enabled: false) { enabled } }', {}, s.token);

  expect((await gql(s.kiln.url, `mutation { deleteBackup(id: "app-cloud") }`, {}, s.token)).data!.deleteBackup).toBe(true);
  expect(cloud.objects.has(`millenium-backups/${path.basename(file)}`)).toBe(false);
});
