/**
 * `kiln file inspect` and `kiln file verify`: the built CLI (dist/src/cli/kiln.js) as a child
 * process, on files a real gateway wrote, with the keys from the gateway's own variables.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { craftBackup } from './support/restore-helpers';
import { finishedJob, startBackup, startSeededKiln, type SeededKiln } from './support/seeded-kiln';
import { TEST_BACKUP_SIGNING_KEY } from './support/test-kiln';

const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli', 'kiln.js');
const ENCRYPTION_KEY = randomBytes(32).toString('hex');
const KEYS = { BACKUP_ENCRYPTION_KEY: ENCRYPTION_KEY, BACKUP_SIGNING_KEY: TEST_BACKUP_SIGNING_KEY };

let s: SeededKiln;
let backup: { id: string; filename: string; fileChecksum: string; recordCounts: Record<string, number>; compressed: boolean };
let file: string;
/** The same backup as a plain document (decrypted by the gateway), gzip or not as written. */
let plainDoc: string;

beforeAll(async () => {
  s = await startSeededKiln(20, { BACKUP_ENCRYPTION_KEY: ENCRYPTION_KEY });
  backup = (await finishedJob(s, (await startBackup(s)).jobId)).backup;
  file = path.join(s.kiln.backupDir, backup.filename);
  const chunks: Buffer[] = [];
  for await (const c of await s.kiln.services.backups.openFile(await s.kiln.services.backups.require(backup.id))) chunks.push(c as Buffer);
  const plain = Buffer.concat(chunks);
  plainDoc = (plain[0] === 0x1f && plain[1] === 0x8b ? gunzipSync(plain) : plain).toString('utf8');
});
afterAll(async () => s?.close());

function kiln(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Only what is given: no key leaks in from the environment running the tests.
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A file in this test's temp folder. */
function scratch(name: string, bytes: Buffer | string): string {
  const at = path.join(tmpdir(), name);
  writeFileSync(at, bytes);
  return at;
}

it('inspects an encrypted, signed backup: the same facts the gateway recorded', async () => {
  const { code, stdout, stderr } = await kiln(['file', 'inspect', file, '--json'], KEYS);
  expect([code, stderr]).toEqual([0, '']);
  const facts = JSON.parse(stdout);
  expect(facts).toMatchObject({
    file: { bytes: readFileSync(file).length, sha256: backup.fileChecksum },
    format: 'kiln-backup',
    backupId: backup.id,
    compressed: backup.compressed,
    checksum: { matches: true },
    signature: { check: 'VALID' },
  });
  expect(facts.encryptedWithKeyId).toMatch(/^[0-9a-f]+$/);
  expect(Object.fromEntries(facts.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]))).toEqual(backup.recordCounts);

  const text = await kiln(['file', 'inspect', file], KEYS);
  expect(text.stdout).toMatch(/^signature {3}signature valid/m);
  expect(text.stdout).toMatch(/^encrypted {3}yes \(key id [0-9a-f]+\)/m);
  expect(text.stdout).toMatch(new RegExp(`^  User +${backup.recordCounts.User}$`, 'm'));
});

it('verifies it: exit 0, and says when the signature could not be checked for want of the key', async () => {
  const checked = await kiln(['file', 'verify', file], KEYS);
  expect(checked.code).toBe(0);
  expect(checked.stdout).toMatch(/: OK \([\d,]+ rows in \d+ tables, signature valid/);
  const unchecked = await kiln(['file', 'verify', file], { BACKUP_ENCRYPTION_KEY: ENCRYPTION_KEY });
  expect(unchecked.code).toBe(0);
  expect(unchecked.stdout).toMatch(/not checked: set BACKUP_SIGNING_KEY/);
  // The key can come from files instead of the environment.
  const keyFile = scratch('cli-keys', `${randomBytes(32).toString('hex')}\n${ENCRYPTION_KEY}\n`);
  const signingKeyFile = scratch('cli-signing-key', TEST_BACKUP_SIGNING_KEY);
  expect((await kiln(['file', 'verify', file, '--key-file', keyFile, '--signing-key-file', signingKeyFile])).code).toBe(0);
});

it.each([
  ['without the key it needs', {}, /encrypted and no key is configured/],
  ['with the wrong key', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('hex') }, /encrypted with key [0-9a-f]+, which is not among the configured keys/],
])('explains an encrypted file read %s, exit 1, no stack', async (_what, env: Record<string, string>, message) => {
  const { code, stderr } = await kiln(['file', 'verify', file], env);
  expect(code).toBe(1);
  expect(stderr).toMatch(message);
  expect(stderr).not.toMatch(/\n\s+at /);
});

it.each([
  ['a foreign file', () => Buffer.from('hello, I am not a backup'), /line 1: /],
  ['an empty file', () => Buffer.alloc(0), /.+/],
  ['a truncated file', () => readFileSync(file).subarray(0, Math.floor(readFileSync(file).length / 2)), /trunc|ends/i],
  ['a damaged encrypted file', () => {
    const bytes = Buffer.from(readFileSync(file));
    bytes[bytes.length - 40] ^= 0xff;
    return bytes;
  }, /tamper|damaged|authenticat/i],
])('refuses %s with a one-line reason and exit 1', async (name, make, message) => {
  for (const command of ['inspect', 'verify']) {
    const { code, stdout, stderr } = await kiln(['file', command, scratch(`cli-${name.replace(/\W/g, '-')}`, make())], KEYS);
    expect([command, code, stdout]).toEqual([command, 1, '']);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  }
});

it('fails verify for changed data, an edited signed header and (unless allowed) a missing signature, while inspect reports them', async () => {
  const doc = JSON.parse(plainDoc);
  const edited = scratch('cli-edited.json', plainDoc.replace(/"firstName":"(.)/, (_m, c: string) => `"firstName":"${c === 'x' ? 'y' : 'x'}`));
  const changed = await kiln(['file', 'verify', edited], KEYS);
  expect(changed.code).toBe(1);
  expect(changed.stderr).toMatch(/does not match its checksum/);
  expect(JSON.parse((await kiln(['file', 'inspect', edited, '--json'], KEYS)).stdout).checksum.matches).toBe(false);

  const resigned = (await craftBackup(doc)).toString('utf8').replace(/"kilnVersion":"[^"]*"/, '"kilnVersion":"6.6.6"');
  const header = await kiln(['file', 'verify', scratch('cli-header.json.gz', gzipSync(resigned))], KEYS);
  expect(header.code).toBe(1);
  expect(header.stderr).toMatch(/signature does not match/);

  const unsigned = scratch('cli-unsigned.json', await craftBackup(doc, () => undefined, null));
  expect((await kiln(['file', 'verify', unsigned], KEYS)).stderr).toMatch(/no Kiln signature/);
  expect((await kiln(['file', 'verify', unsigned, '--allow-unsigned'], KEYS)).code).toBe(0);
});

it.each([
  ['a malformed key variable', ['file', 'verify', 'x'], { BACKUP_ENCRYPTION_KEY: 'short' }, /BACKUP_ENCRYPTION_KEY must be 32 bytes/],
  ['an unknown option', ['file', 'verify', 'x', '--frobnicate'], {}, /unknown option/],
  ['a missing argument', ['file', 'inspect'], {}, /missing required argument/],
])('ends %s with exit 2', async (_what, args, env: Record<string, string>, message) => {
  const { code, stderr } = await kiln(args, env);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
});

it('says so for a file that does not exist (exit 1)', async () => {
  const { code, stderr } = await kiln(['file', 'inspect', path.join(tmpdir(), 'no-such-backup.json')]);
  expect(code).toBe(1);
  expect(stderr).toMatch(/no such file/);
});

describe('kiln file decrypt', () => {
  it('writes the plain backup, readable by its owner only, which inspects as the same data', async () => {
    const out = path.join(tmpdir(), 'cli-decrypted.json');
    const { code, stderr } = await kiln(['file', 'decrypt', file, '-o', out], KEYS);
    expect([code, stderr]).toEqual([0, '']);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const facts = JSON.parse((await kiln(['file', 'inspect', out, '--json'], KEYS)).stdout);
    expect(facts).toMatchObject({ encryptedWithKeyId: null, checksum: { matches: true }, signature: { check: 'VALID' }, backupId: backup.id });
  });

  it.each([
    ['with the wrong key', () => file, { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('hex') }, /not among the configured keys/],
    ['a damaged file', () => {
      const bytes = Buffer.from(readFileSync(file));
      bytes[bytes.length - 40] ^= 0xff;
      return scratch('cli-decrypt-damaged', bytes);
    }, KEYS, /.+/],
    ['a file that is not encrypted', () => scratch('cli-plain.json', plainDoc), KEYS, /not encrypted/],
  ])('refuses %s and leaves no file behind', async (_what, source, env: Record<string, string>, message) => {
    const out = path.join(tmpdir(), `cli-decrypt-${randomBytes(4).toString('hex')}.json`);
    const { code, stderr } = await kiln(['file', 'decrypt', source(), '-o', out], env);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(path.basename(out)))).toEqual([]);
  });
});
