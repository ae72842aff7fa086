/**
 * The `kiln` commands that talk to a gateway: the built CLI as a child process against a real
 * gateway and database, in plain-lines, JSON and terminal (a pseudo-terminal from `script`) output.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finishedJob, startBackup, startSeededKiln, whileTableLocked, type SeededKiln } from './support/seeded-kiln';
import { LENDING_TABLES } from '../src/domain';
import { fingerprint } from './support/restore-helpers';
import { TokenService } from '../src/auth/token.service';
import { gql, loginToken, TEST_ADMIN, TEST_JWT_SECRET } from './support/test-kiln';
import { until } from './support/until';
import { closedPort } from './support/closed-port';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');

let s: SeededKiln;
beforeAll(async () => {
  s = await startSeededKiln(20);
});
afterAll(async () => s?.close());
// A restore ends every session, the suite's own token's too: each test starts with a fresh one.
beforeEach(async () => {
  s.token = await loginToken(s.kiln.url);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kiln args…` with only `env` (and PATH), `stdin` piped in. */
function kiln(args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, KILN_URL: s.kiln.url, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}
const asAdmin = async (args: string[]) => kiln(args, { KILN_TOKEN: await loginToken(s.kiln.url) });

it('signs in with the password from stdin and reports the status as JSON', async () => {
  const { code, stdout, stderr } = await kiln(['status', '--json', '--email', TEST_ADMIN.email], {}, `${TEST_ADMIN.password}\n`);
  expect([code, stderr]).toEqual([0, '']);
  const status = JSON.parse(stdout);
  expect(status.maintenanceMode.enabled).toBe(false);
  expect(Array.isArray(status.backupHealth.problems)).toBe(true);
  expect(status.jobs).toEqual([]);
});

it('backs up and follows the job to its end in plain lines, then lists it', async () => {
  const token = await loginToken(s.kiln.url);
  let [stdout, stderr] = ['', ''];
  // Held mid-way until the CLI has shown it running: a small backup could otherwise end before the first update.
  const { closed } = await whileTableLocked(s, async () => {
    const child = spawn(process.execPath, [CLI, 'backup', '--wait', '--audit-logs'], { env: { PATH: process.env.PATH, KILN_URL: s.kiln.url, KILN_TOKEN: token } });
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until('the running job to be shown', async () => stdout, (t) => t.includes('RUNNING'), 20_000, 20);
    // Wrapped: an async function returning the promise itself would wait for the exit with the table still locked.
    return { closed };
  });
  const code = await closed;
  expect([code, stderr]).toEqual([0, '']);
  const lines = stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.every((l) => /^BACKUP \w+ (RUNNING|COMPLETED), \d+%/.test(l))).toBe(true);
  expect(lines.some((l) => / phase \w+/.test(l))).toBe(true);
  expect(lines.at(-1)).toMatch(/COMPLETED, 100%.*rows from \d+ tables/);

  const listed = await asAdmin(['backups', '--json', '--limit', '1']);
  const newest = JSON.parse(listed.stdout.trim());
  expect(newest).toMatchObject({ status: 'COMPLETED', type: 'MANUAL' });
});

it('writes JSON lines with --json, the last one the final state', async () => {
  const { code, stdout } = await asAdmin(['backup', '--wait', '--json']);
  expect(code).toBe(0);
  const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(events.at(-1)).toMatchObject({ kind: 'BACKUP', status: 'COMPLETED', percent: 100 });
  expect(events.every((e) => typeof e.rowsDone === 'number' && typeof e.bytesDone === 'number')).toBe(true);
});

(existsSync('/usr/bin/script') ? it : it.skip)('draws a progress bar on a terminal (a pseudo-terminal)', async () => {
  const token = await loginToken(s.kiln.url);
  const out = await new Promise<string>((resolve) => {
    let text = '';
    const child = spawn('script', ['-qec', `${process.execPath} ${CLI} backup --wait`, '/dev/null'], {
      env: { PATH: process.env.PATH, KILN_URL: s.kiln.url, KILN_TOKEN: token, TERM: 'xterm' },
    });
    child.stdout.on('data', (d) => (text += String(d)));
    child.on('close', () => resolve(text));
  });
  expect(out).toMatch(/BACKUP COMPLETED \w+ +\[=+\] 100% \| [\d,]+ rows \| [\d.]+ MB/);
  expect(out).toMatch(/COMPLETED, 100%/);
});

it('verifies with a drill and prints the checks; a failing check is exit 1', async () => {
  const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  const ok = await asAdmin(['verify', backup.id, '--drill', '--wait']);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^ {2}ok {3}.*drill/im);

  rmSync(path.join(s.kiln.backupDir, backup.filename));
  const failed = await asAdmin(['verify', backup.id, '--wait']);
  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(/^ {2}FAIL /m);
  expect(failed.stderr).toMatch(new RegExp(`backup ${backup.id} failed verification`));
});

it('turns maintenance on and off, with the reason', async () => {
  const on = await asAdmin(['maintenance', 'on', '--reason', 'restore drill']);
  expect([on.code, on.stdout.trim()]).toEqual([0, 'maintenance ON: restore drill']);
  const off = await asAdmin(['maintenance', 'off']);
  expect([off.code, off.stdout.trim()]).toEqual([0, 'maintenance off']);
  expect((await asAdmin(['maintenance', 'sideways'])).code).toBe(2);
});

it('stops following on Ctrl-C with 130 and says how to follow again; the job keeps running', async () => {
  const token = await loginToken(s.kiln.url);
  const jobId = await whileTableLocked(s, async () => {
    const { jobId } = await startBackup(s);
    const child = spawn(process.execPath, [CLI, 'jobs', 'watch', jobId], { env: { PATH: process.env.PATH, KILN_URL: s.kiln.url, KILN_TOKEN: token } });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until('the current state to be shown', async () => stdout, (t) => t.includes('RUNNING'), 10_000, 20);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`kiln jobs watch ${jobId}`);
    const job = await gql(s.kiln.url, 'query($id: ID!) { job(id: $id) { status } }', { id: jobId }, token);
    expect(job.data!.job.status).toBe('RUNNING');
    return jobId;
  });
  // The backup it left running ends here, not in the next test's createBackup (CONFLICT).
  await s.kiln.services.jobs.settled(jobId);
});

type Who = Record<string, string> | 'revoked' | 'expired' | 'admin' | 'closed-port';
it.each<[string, string[], Who, string, number, RegExp]>([
  ['a wrong password', ['status', '--email', TEST_ADMIN.email], {}, 'not-the-password\n', 4, /^kiln: UNAUTHENTICATED: Invalid email or password/],
  ['a revoked token', ['status'], 'revoked', '', 4, /^kiln: UNAUTHENTICATED: .*sign in again/],
  ['an expired token', ['status'], 'expired', '', 4, /^kiln: UNAUTHENTICATED: .*sign in again/],
  ['no credentials', ['status'], {}, '', 2, /no credentials: set KILN_TOKEN/],
  ['an unreachable gateway', ['status'], 'closed-port', '', 3, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is it running\?/],
  ['a malformed KILN_URL', ['status'], { KILN_URL: 'not a url', KILN_TOKEN: 'x' }, '', 2, /KILN_URL must be the gateway/],
  ['an unknown backup', ['delete', 'no-such-backup'], 'admin', '', 1, /^kiln: NOT_FOUND: /],
])('ends %s with a one-line message and its exit code', async (_what, args, env, stdin, exit, message) => {
  let vars: Record<string, string> = typeof env === 'object' ? env : {};
  if (env === 'revoked') {
    const token = await loginToken(s.kiln.url);
    await gql(s.kiln.url, 'mutation { logout }', {}, token);
    vars = { KILN_TOKEN: token };
  }
  if (env === 'admin') vars = { KILN_TOKEN: await loginToken(s.kiln.url) };
  // Signed with the gateway's secret for a real session, an hour past its expiry.
  if (env === 'expired') vars = { KILN_TOKEN: new TokenService(TEST_JWT_SECRET, -3600).sign({ userId: 'u', jwtId: 'j' }).token };
  if (env === 'closed-port') vars = { KILN_URL: `http://127.0.0.1:${await closedPort()}`, KILN_TOKEN: 'x' };
  const { code, stdout, stderr } = await kiln(args, vars, stdin);
  expect([code, stdout]).toEqual([exit, '']);
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
});


describe('kiln download', () => {
  let backup: { id: string; filename: string; fileChecksum: string };
  let original: Buffer;
  beforeAll(async () => {
    s.token = await loginToken(s.kiln.url);
    backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    original = readFileSync(path.join(s.kiln.backupDir, backup.filename));
  });
  const out = (name: string) => path.join(tmpdir(), `cli-download-${name}-${process.pid}.json`);

  it('writes the file, checked against the recorded sha256', async () => {
    const file = out('whole');
    const { code, stdout, stderr } = await asAdmin(['download', backup.id, '-o', file]);
    expect(code).toBe(0);
    expect(stdout).toContain(`sha256 ${backup.fileChecksum} (checked)`);
    expect(stderr).not.toMatch(/resuming/);
    expect(readFileSync(file).equals(original)).toBe(true);
  });

  it('resumes a download that was cut off, from the bytes it has', async () => {
    const file = out('resumed');
    const half = Math.floor(original.length / 2);
    writeFileSync(`${file}.part`, original.subarray(0, half));
    const { code, stderr } = await asAdmin(['download', backup.id, '-o', file]);
    expect(code).toBe(0);
    expect(stderr).toContain(`at ${half.toLocaleString('en')} bytes`);
    expect(readFileSync(file).equals(original)).toBe(true);
    expect(existsSync(`${file}.part`)).toBe(false);
  });

  it('names the file by its base name only (an app row’s file name is no path), checks its size, and never overwrites', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-download-cwd-'));
    await s.db.query(
      `INSERT INTO backup_records (id, filename, "fileSize", location, "localPath", type, status, "createdAt") VALUES ('app-escape', '../escaped.json', $1, 'local', $2, 'manual', 'completed', now())`,
      [original.length, path.join(s.kiln.backupDir, backup.filename)],
    );
    try {
      const run = () =>
        new Promise<Run>((resolve) =>
          execFile(process.execPath, [CLI, 'download', 'app-escape'], { cwd: dir, env: { PATH: process.env.PATH, KILN_URL: s.kiln.url, KILN_TOKEN: s.token } }, (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          ),
        );
      const first = await run();
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^escaped\.json: .*not checked: the gateway recorded none/);
      expect(readdirSync(dir)).toEqual(['escaped.json']);
      expect(existsSync(path.join(dir, '..', 'escaped.json'))).toBe(false);
      const again = await run();
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/escaped\.json exists already/);
      // -o a folder: the file goes into it under its own name.
      const into = mkdtempSync(path.join(tmpdir(), 'cli-download-into-'));
      expect((await asAdmin(['download', backup.id, '-o', into])).code).toBe(0);
      expect(readdirSync(into)).toEqual([backup.filename]);
    } finally {
      await s.db.query(`DELETE FROM backup_records WHERE id = 'app-escape'`);
    }
  });

  it('removes a result that does not match the recorded sha256 (a damaged partial file) and says so, exit 1', async () => {
    const file = out('damaged');
    writeFileSync(`${file}.part`, Buffer.alloc(Math.floor(original.length / 2), 0x41));
    const { code, stderr } = await asAdmin(['download', backup.id, '-o', file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/is not the recorded [0-9a-f]{64}: removed; run the download again/);
    expect(existsSync(file) || existsSync(`${file}.part`)).toBe(false);
    expect((await asAdmin(['download', backup.id, '-o', file])).code).toBe(0);
    expect(readFileSync(file).equals(original)).toBe(true);
  });
});

describe('kiln restore', () => {
  // The lending data; not the sign-in tables the CLI's own sign-in and the maintenance switches write to.
  const DATA = LENDING_TABLES.filter((t) => !['AuditLog', 'StaffSession', 'User', 'UserLoginHistory'].includes(t));
  const data = () => fingerprint(s.db, DATA);
  const MAINTENANCE_STATE = '{ maintenanceMode { enabled } }';
  const maintenanceOn = async () => (await gql(s.kiln.url, MAINTENANCE_STATE, {}, await loginToken(s.kiln.url))).data!.maintenanceMode.enabled as boolean;

  it('restores a stored backup around maintenance mode, signing in again to end it', async () => {
    const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    const before = await data();
    await s.db.query(`DELETE FROM "UserNote"`);
    const { code, stdout, stderr } = await kiln(['restore', backup.id, '--maintenance', '--yes', '--email', TEST_ADMIN.email], {}, `${TEST_ADMIN.password}\n`);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toMatch(/RESTORE \w+ COMPLETED, 100%/);
    expect(stdout).toContain('Everybody, you included, must sign in again.');
    expect(await data()).toEqual(before);
    expect(await maintenanceOn()).toBe(false);
  });

  it('uploads a file with --file; with KILN_TOKEN it says how to end maintenance, as it cannot sign in again', async () => {
    const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    const { code, stdout, stderr } = await asAdmin(['restore', '--file', path.join(s.kiln.backupDir, backup.filename), '--maintenance', '--yes']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/COMPLETED/);
    // The upload's own progress, before the job exists: every byte of the file went.
    const size = backup.fileSize.toLocaleString('en');
    expect(stderr).toMatch(new RegExp(`^upload: ${size} of ${size} bytes$`, 'm'));
    expect(stderr).toContain('sign in again and run `kiln maintenance off`');
    expect(await maintenanceOn()).toBe(true);
    expect((await asAdmin(['maintenance', 'off'])).code).toBe(0);
  });

  it('refuses to restore without --yes when there is no terminal to ask on (exit 2, nothing changed)', async () => {
    const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    const before = await data();
    const { code, stderr } = await asAdmin(['restore', backup.id, '--maintenance']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/confirm with --yes/);
    expect(await maintenanceOn()).toBe(false);
    expect(await data()).toEqual(before);
  });

  it('refuses a restore outside maintenance mode with its code and says how to turn it on (exit 1, nothing changed)', async () => {
    const backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
    const before = await data();
    const { code, stderr } = await asAdmin(['restore', backup.id, '--yes']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^kiln: MAINTENANCE_REQUIRED: .+ \(`kiln maintenance on` first, or `kiln restore … --maintenance`, which also turns it off afterwards\)$/m);
    expect(await maintenanceOn()).toBe(false);
    expect(await data()).toEqual(before);
  });

  it('ends a refused file with its code and turns maintenance back off; nothing changed', async () => {
    const before = await data();
    const bad = path.join(tmpdir(), `cli-restore-bad-${process.pid}.json`);
    writeFileSync(bad, 'not a backup at all');
    const { code, stderr } = await asAdmin(['restore', '--file', bad, '--maintenance', '--yes']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^kiln: RESTORE job \w+ FAILED: BACKUP_CORRUPT: /m);
    expect(await maintenanceOn()).toBe(false);
    expect(await data()).toEqual(before);
  });
});

describe('kiln schedule', () => {
  afterEach(async () => {
    await gql(s.kiln.url, 'mutation { updateBackupSchedule(input: { frequency: DISABLED, retentionDays: 30, keepAtLeast: 3 }) { frequency } }', {}, await loginToken(s.kiln.url));
  });

  it('sets only what it is given and shows the schedule with its next runs', async () => {
    const set = await asAdmin(['schedule', 'set', '--frequency', 'custom', '--cron', '30 2 * * *', '--timezone', 'Africa/Lagos', '--retention-days', '14', '--audit-logs', 'yes']);
    expect([set.code, set.stderr]).toEqual([0, '']);
    expect(set.stdout).toMatch(/^frequency {3}CUSTOM \(30 2 \* \* \*\) in Africa\/Lagos$/m);
    expect(set.stdout).toMatch(/^retention {3}14 days, at least 3 kept$/m);
    expect(set.stdout.match(/T02:30:00\+01:00/g)).toHaveLength(5);
    const shown = JSON.parse((await asAdmin(['schedule', 'show', '--json'])).stdout);
    expect(shown.backupSchedule).toMatchObject({ frequency: 'CUSTOM', cron: '30 2 * * *', retentionDays: 14, includeAuditLogs: true, includeSessions: false });
  });

  it.each([
    ['a bad cron', ['--frequency', 'CUSTOM', '--cron', 'every day'], /^kiln: BAD_USER_INPUT: /],
    ['nothing to change', [], /nothing to change/],
    ['a yes-or-no that is neither', ['--sessions', 'maybe'], /expected yes or no/],
    ['a retention of zero days', ['--retention-days', '0'], /--retention-days must be a whole number from 1 up/],
  ])('refuses %s with exit 2 and changes nothing', async (_what, args, message) => {
    const before = (await asAdmin(['schedule', 'show', '--json'])).stdout;
    const { code, stderr } = await asAdmin(['schedule', 'set', ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect((await asAdmin(['schedule', 'show', '--json'])).stdout).toBe(before);
  });
});
