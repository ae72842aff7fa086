/**
 * The console at / in a real browser (Debian's Chromium through playwright-core), with no network
 * but the gateway's, against a real gateway and database. Every test signs in itself (a restore
 * ends every session) and checks that nothing left the machine and nothing was refused by the CSP.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cspRefusals, describeInBrowser, launchChromium, offlinePage, screenshot, type OfflinePage } from './support/browser';
import { startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { freshDatabase, workerDatabaseName } from './support/test-database';
import { gql, loginToken, startTestKiln, TEST_ADMIN } from './support/test-kiln';
import { until } from './support/until';

// Restores and drills in a real browser: slower than most tests on a loaded machine.
jest.setTimeout(180_000);

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(30);
}, 120_000);
afterAll(async () => s?.close());

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const MAINTENANCE = 'mutation($on: Boolean!) { setMaintenanceMode(enabled: $on, reason: "console test") { enabled } }';

/** A fresh admin token: a restore in another test ends every earlier session. */
const adminToken = () => loginToken(s.kiln.url);

/** A completed backup made over the API, with the facts the console should show. */
async function storedBackup(): Promise<{ id: string; filename: string; fileChecksum: string }> {
  const token = await adminToken();
  const res = await gql(s.kiln.url, 'mutation { createBackup { id } }', {}, token);
  const jobId = res.data!.createBackup.id;
  await s.kiln.services.jobs.settled(jobId);
  const job = (await gql(s.kiln.url, 'query($id: ID!) { job(id: $id) { status backup { id filename fileChecksum } } }', { id: jobId }, token)).data!.job;
  expect(job.status).toBe('COMPLETED');
  return job.backup;
}

async function setMaintenance(on: boolean): Promise<void> {
  const res = await gql(s.kiln.url, MAINTENANCE, { on }, await adminToken());
  expect(res.data?.setMaintenanceMode.enabled).toBe(on);
}

async function signIn(page: Page, hash = ''): Promise<void> {
  await page.goto(`${s.kiln.url}/${hash}`);
  await page.getByLabel('Email').fill(TEST_ADMIN.email);
  await page.getByLabel('Password').fill(TEST_ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // As long as the job waits below: right after a restore, on a loaded machine, the first
  // screen's queries wait their turn (30 s ran out once under stress-ng).
  await page.locator('header.top').waitFor({ timeout: 60_000 });
}

/** The job card of the newest job of `kind` (the console lists running jobs first, then newest first). */
const jobCard = (page: Page, kind: string, status: string) => page.locator(`article[aria-label="${kind} job ${status}"]`).first();

describe('serving the console', () => {
  it('answers / with a strict CSP, hashed assets cached for a year, gzip, 304 on revisit, all under 150 KB gzipped', async () => {
    const res = await fetch(`${s.kiln.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style>|https?:\/\//);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);

    let gzippedBytes = Number((await fetch(`${s.kiln.url}/`, { headers: { 'accept-encoding': 'gzip' } })).headers.get('content-length'));
    for (const asset of assets) {
      const a = await fetch(`${s.kiln.url}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
      expect([asset, a.status, a.headers.get('cache-control'), a.headers.get('content-encoding')]).toEqual([asset, 200, 'public, max-age=31536000, immutable', 'gzip']);
      gzippedBytes += Number(a.headers.get('content-length'));
      // As a browser revalidates (fetch() alone would add Cache-Control: no-cache, which asks for the body).
      const again = await fetch(`${s.kiln.url}${asset}`, { headers: { 'if-none-match': a.headers.get('etag')!, 'cache-control': 'max-age=0' } });
      expect(again.status).toBe(304);
    }
    expect(gzippedBytes).toBeLessThan(150 * 1024);
    expect((await fetch(`${s.kiln.url}/assets/not-there.js`)).status).toBe(404);
  });
});

describeInBrowser('the console in a browser', () => {
  let browser: Browser;
  let tab: OfflinePage;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => browser?.close());
  beforeEach(async () => {
    tab = await offlinePage(browser);
  });
  afterEach(async () => {
    expect(tab.outside).toEqual([]);
    expect(cspRefusals(tab.problems)).toEqual([]);
    await tab.context.close();
  });

  it('signs in, backs up now with the progress bar reaching 100 % through its phases, and downloads the file', async () => {
    const { page } = tab;
    await signIn(page, '#/backups');
    // Every phase and percent the page shows, recorded as it renders (a small backup is quick).
    await page.evaluate(`{
      const seen = (window.seen = { phases: [], percents: [] });
      new MutationObserver(() => {
        document.querySelectorAll('.phase').forEach((p) => !seen.phases.includes(p.textContent) && seen.phases.push(p.textContent));
        document.querySelectorAll('[role=progressbar][aria-label="BACKUP progress"]').forEach((b) => seen.percents.push(Number(b.getAttribute('aria-valuenow'))));
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    }`);
    await page.getByLabel('Audit logs').check();
    await page.getByRole('button', { name: 'Back up now' }).click();
    const card = jobCard(page, 'BACKUP', 'COMPLETED');
    await card.waitFor({ timeout: 60_000 });
    await expect(card.getByRole('progressbar').getAttribute('aria-valuenow')).resolves.toBe('100');
    const seen = (await page.evaluate('window.seen')) as { phases: string[]; percents: number[] };
    expect(seen.phases.length).toBeGreaterThan(0);
    expect(seen.percents).toContain(100);

    const filename = (await card.locator('.filename').textContent())!;
    const token = await adminToken();
    const backup = (await gql(s.kiln.url, 'query { backups(limit: 1) { items { filename fileChecksum includeAuditLogs } } }', {}, token)).data!.backups.items[0];
    expect(backup).toMatchObject({ filename, includeAuditLogs: true });

    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: `Download ${filename}` }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe(filename);
    expect(sha256(readFileSync((await download.path())!))).toBe(backup.fileChecksum);
    await screenshot(page, 'console-backups');
  });

  it('filters and pages the backups table', async () => {
    await storedBackup();
    const { page } = tab;
    await signIn(page, '#/backups');
    const rows = page.locator('table[aria-label="Backups"] tbody tr[data-backup-id]');
    await until('the backups to be listed', () => rows.count(), (n) => n > 0);
    await page.getByLabel('Origin', { exact: true }).selectOption('APP');
    await until('no APP backups to be listed', () => rows.count(), (n) => n === 0);
    await page.getByText('No backups match.').waitFor();
    await page.getByLabel('Origin', { exact: true }).selectOption('KILN');
    await page.getByLabel('Type', { exact: true }).selectOption('MANUAL');
    await until('the Kiln backups to be listed again', () => rows.count(), (n) => n > 0);
    await expect(page.locator('.pager').textContent()).resolves.toMatch(/^Newer\s*1–\d+ of \d+\s*Older$/);
  });

  it('verifies a backup with a restore drill and shows the checks', async () => {
    const backup = await storedBackup();
    const { page } = tab;
    await signIn(page, '#/backups');
    await page.getByRole('button', { name: `Verify ${backup.filename}` }).click();
    await page.getByText('Verification started').waitFor();
    await page.getByRole('link', { name: 'Jobs' }).click();
    const card = jobCard(page, 'VERIFY', 'COMPLETED');
    await card.waitFor({ timeout: 60_000 });
    const checks = await card.getByRole('list', { name: 'Verification' }).textContent();
    expect(checks).toMatch(/✔/);
    expect(checks).not.toMatch(/✘/);
    expect(checks).toMatch(/drill/i);
    await screenshot(page, 'console-jobs');
  });

  it('shows a failed job with its error and code (a restore of a stored file changed on disk)', async () => {
    const backup = await storedBackup();
    const file = path.join(s.kiln.backupDir, backup.filename);
    // One email changed, the file otherwise as Kiln wrote it (gzip again if it was).
    const bytes = readFileSync(file);
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
    const edited = (gzipped ? gunzipSync(bytes) : bytes).toString('utf8').replace(/"email":"[^"]+"/, '"email":"mallory@evil.test"');
    writeFileSync(file, gzipped ? gzipSync(edited) : edited);
    await setMaintenance(true);
    try {
      const { page } = tab;
      await signIn(page, `#/restore?id=${backup.id}`);
      await page.getByLabel(/Type the file name to confirm/).fill(backup.filename);
      await page.getByRole('button', { name: 'Restore', exact: true }).click();
      const card = jobCard(page, 'RESTORE', 'FAILED');
      await card.waitFor({ timeout: 60_000 });
      await expect(card.getByRole('alert').textContent()).resolves.toMatch(/^BACKUP_CORRUPT .*checksum/);
      await screenshot(page, 'console-failed-job');
    } finally {
      await setMaintenance(false);
    }
  });

  it('restores a stored backup: maintenance on with a reason, the counts, the typed filename; then everybody signs in again', async () => {
    const backup = await storedBackup();
    const { page } = tab;
    await signIn(page, `#/restore?id=${backup.id}`);
    await page.getByLabel('Reason').fill('Restoring from the console');
    await page.getByRole('button', { name: 'Turn maintenance on' }).click();
    await page.getByText('Restoring from the console').waitFor();
    const counts = page.getByRole('table', { name: 'What the backup holds' });
    await expect(counts.textContent()).resolves.toMatch(/User\d+/);
    const restore = page.getByRole('button', { name: 'Restore', exact: true });
    await page.getByLabel(/Type the file name to confirm/).fill(backup.filename.slice(0, -1));
    expect(await restore.isDisabled()).toBe(true);
    await page.getByLabel(/Type the file name to confirm/).fill(backup.filename);
    await screenshot(page, 'console-restore');
    await restore.click();

    // The restore ends every session, this tab's too: the console says so and asks to sign in.
    await page.getByRole('status').filter({ hasText: 'Your session ended' }).waitFor({ timeout: 60_000 });
    await signIn(page, '#/jobs');
    const card = jobCard(page, 'RESTORE', 'COMPLETED');
    await card.waitFor();
    await expect(card.textContent()).resolves.toMatch(/everybody must sign in again/);

    await page.getByRole('link', { name: 'Restore' }).click();
    await page.getByRole('button', { name: 'Turn maintenance off' }).click();
    await page.getByRole('button', { name: 'Turn maintenance on' }).waitFor();
    const state = await gql(s.kiln.url, '{ maintenanceMode { enabled } }', {}, await adminToken());
    expect(state.data!.maintenanceMode.enabled).toBe(false);
  });

  it('restores an uploaded file after showing what it holds, with upload progress', async () => {
    const backup = await storedBackup();
    const file = path.join(tmpdir(), backup.filename);
    writeFileSync(file, readFileSync(path.join(s.kiln.backupDir, backup.filename)));
    await setMaintenance(true);
    try {
      const { page } = tab;
      await signIn(page, '#/restore');
      await page.getByLabel('A file from this computer').check();
      await page.getByLabel('Backup file').setInputFiles(file);
      await page.getByRole('button', { name: 'Check the file' }).click();
      await page.getByText('Signed by this Kiln').waitFor({ timeout: 60_000 });
      await expect(page.getByRole('table', { name: 'What the backup holds' }).textContent()).resolves.toMatch(/User\d+/);
      await page.getByLabel(/Type the file name to confirm/).fill(backup.filename);
      await page.getByRole('button', { name: 'Restore', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Your session ended' }).waitFor({ timeout: 60_000 });
      await signIn(page, '#/jobs');
      const card = jobCard(page, 'RESTORE', 'COMPLETED');
      await expect(card.textContent()).resolves.toMatch(new RegExp(`uploaded file ${backup.filename.replace(/\./g, '\\.')}`));
    } finally {
      await setMaintenance(false);
    }
  });

  it('previews the next runs and retention as the schedule form changes, before saving', async () => {
    const token = await adminToken();
    const before = (await gql(s.kiln.url, '{ backupSchedule { frequency cron timezone } }', {}, token)).data!.backupSchedule;
    const { page } = tab;
    await signIn(page, '#/schedule');
    const runs = page.getByRole('list', { name: 'Next runs' });
    await page.getByLabel('Frequency').selectOption('CUSTOM');
    await page.getByLabel(/^Cron/).fill('15 3 * * 1');
    await page.getByLabel('Time zone').fill('Europe/London');
    await until('five Monday 03:15 runs', () => runs.locator('li').allTextContents(), (items) => items.length === 5 && items.every((t) => /T03:15:00[+-]\d\d:\d\d/.test(t)));
    await page.getByLabel(/^Cron/).fill('45 22 * * *');
    await until('the runs to follow the cron', () => runs.locator('li').allTextContents(), (items) => items.length === 5 && items.every((t) => /T22:45:00/.test(t)));
    await page.getByLabel('Keep backups for (days)').fill('1');
    await page.getByRole('status').filter({ hasText: 'Not saved yet' }).waitFor();
    await screenshot(page, 'console-schedule');
    // Nothing was saved by the previews.
    expect((await gql(s.kiln.url, '{ backupSchedule { frequency cron timezone } }', {}, token)).data!.backupSchedule).toEqual(before);

    // A bad cron is explained before saving.
    await page.getByLabel(/^Cron/).fill('every day');
    await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(/^BAD_USER_INPUT /);
    await page.getByLabel(/^Cron/).fill('45 22 * * *');
    await page.getByLabel('Restore drills').selectOption('MONTHLY');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('status').filter({ hasText: 'No unsaved changes' }).waitFor();
    const saved = (await gql(s.kiln.url, '{ backupSchedule { frequency cron timezone retentionDays drillFrequency } }', {}, token)).data!.backupSchedule;
    expect(saved).toEqual({ frequency: 'CUSTOM', cron: '45 22 * * *', timezone: 'Europe/London', retentionDays: 1, drillFrequency: 'MONTHLY' });
    await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { frequency: DISABLED, retentionDays: 30, drillFrequency: QUARTERLY }) { frequency } }', {}, token);
  });

  it('shows the overview and the system page, and checks deletion dependencies, on a phone-width screen', async () => {
    await tab.context.close();
    tab = await offlinePage(browser, { width: 390, height: 844 });
    const { page } = tab;
    await signIn(page);
    await page.getByLabel('Backup health').waitFor();
    await page.getByText('Last successful').waitFor();
    await screenshot(page, 'console-overview');
    // Nothing wider than the screen but the backups table's own scrolling box.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    const { rows } = await s.db.query(`SELECT id FROM "UnionMember" LIMIT 1`);
    await page.getByRole('link', { name: 'System' }).click();
    await page.getByLabel('What', { exact: true }).selectOption('UNION_MEMBER');
    await page.getByLabel('Id', { exact: true }).fill(rows[0].id);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByLabel('Dependency report').waitFor();
    await expect(page.getByLabel('Dependency report').textContent()).resolves.toMatch(/cannot be deleted yet|can be deleted/);
    await screenshot(page, 'console-system');
  });

  it('deletes a backup only after its confirmation', async () => {
    const backup = await storedBackup();
    const { page } = tab;
    await signIn(page, '#/backups');
    await page.getByRole('button', { name: `Delete ${backup.filename}` }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Confirm delete' });
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect((await gql(s.kiln.url, 'query($id: ID!) { backup(id: $id) { id } }', { id: backup.id }, await adminToken())).data!.backup).not.toBeNull();
    await page.getByRole('button', { name: `Delete ${backup.filename}` }).click();
    await confirm.getByRole('button', { name: 'Yes, delete' }).click();
    await page.locator(`tr[data-backup-id="${backup.id}"]`).waitFor({ state: 'detached' });
    expect((await gql(s.kiln.url, 'query($id: ID!) { backup(id: $id) { id } }', { id: backup.id }, await adminToken())).data!.backup).toBeNull();
  });

  it('cancels a running job from its card', async () => {
    const { page } = tab;
    await signIn(page, '#/jobs');
    await whileTableLocked(s, async () => {
      // The backup waits on the lock: it is running when Cancel is pressed.
      await gql(s.kiln.url, 'mutation { createBackup { id } }', {}, await adminToken());
      const running = jobCard(page, 'BACKUP', 'RUNNING');
      await running.getByRole('button', { name: 'Cancel' }).click();
      await jobCard(page, 'BACKUP', 'CANCELLED').waitFor({ timeout: 60_000 });
    });
  });

  it('resets the system behind a typed confirmation and shows the temporary password once, on the sign-in page', async () => {
    // A gateway of its own: a reset leaves only the super admin, which the other tests do not sign in as.
    const other = await startTestKiln({ SUPERADMIN_EMAIL: 'chief@kiln.test' }, await freshDatabase(`${workerDatabaseName()}_console_reset`));
    try {
      const { page } = tab;
      await page.goto(`${other.url}/#/system`);
      await page.getByLabel('Email').fill(TEST_ADMIN.email);
      await page.getByLabel('Password').fill(TEST_ADMIN.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Reason').fill('Emergency reset drill');
      await page.getByRole('button', { name: 'Turn maintenance on' }).click();
      const reset = page.getByRole('button', { name: 'Reset the system' });
      await page.getByLabel('Type DELETE to confirm').fill('delete');
      expect(await reset.isDisabled()).toBe(true);
      await page.getByLabel('Type DELETE to confirm').fill('DELETE');
      await reset.click();
      const notice = page.getByRole('status').filter({ hasText: 'temporary password' });
      const text = (await notice.textContent({ timeout: 60_000 }))!;
      const password = /temporary password (\S+) \(shown only this once/.exec(text)![1];
      expect(text).toContain('chief@kiln.test');
      await screenshot(page, 'console-after-reset');
      // It signs the super admin in once the reset has finished.
      const token = await until(
        'the super admin to sign in',
        async () => (await gql(other.url, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: 'chief@kiln.test', p: password })).data?.login?.token as string | undefined,
        (t) => t !== undefined,
        60_000,
        500,
      );
      expect(token).toBeTruthy();
      // Shown once: a new page load has no trace of it.
      await page.reload();
      await page.getByLabel('Email').waitFor();
      expect(await page.locator('body').innerText()).not.toContain(password);
    } finally {
      await other.close();
    }
  });

  it('signs out: the token is revoked and the sign-in page says so', async () => {
    const { page } = tab;
    await signIn(page);
    const token = (await page.evaluate(`JSON.parse(sessionStorage.getItem('kiln.session')).token`)) as string;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out.').waitFor();
    await screenshot(page, 'console-sign-in');
    expect(await page.evaluate(`sessionStorage.getItem('kiln.session')`)).toBeNull();
    const res = await gql(s.kiln.url, '{ me { email } }', {}, token);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('names a wrong password with its code', async () => {
    const { page } = tab;
    await page.goto(`${s.kiln.url}/`);
    await page.getByLabel('Email').fill(TEST_ADMIN.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^UNAUTHENTICATED /);
  });
});
