import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runKilnProcessToExit, startKilnProcess } from './support/kiln-process';
import { gql, loginToken } from './support/test-kiln';
import { eventually } from './support/until';

// The zero-setup path end to end: `node dist/src/main.js` with no DATABASE_URL
// starts an embedded PostgreSQL in DATA_DIR and keeps everything across restarts.
const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
// Password checks at normal priority, as every test gateway's (test-kiln.ts): at the default nice 19,
// under stress-ng the in-flight login below outlasted SHUTDOWN_TIMEOUT_SECONDS (seen once: socket hang up).
const env = { DATA_DIR: dataDir, PASSWORD_CHECK_NICE: '0' };

/**
 * A GraphQL POST sent in two steps: the headers with `Expect: 100-continue` first (`accepted`
 * resolves once the server has taken the request: Node answers 100 Continue as it hands the
 * request to the app), then the body when `send()` is called; `answer` is the parsed reply.
 */
function requestInTwoSteps(url: string, body: unknown): { accepted: Promise<void>; send(): void; answer: Promise<any> } {
  const json = JSON.stringify(body);
  const req = http.request(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), expect: '100-continue' },
  });
  const accepted = new Promise<void>((resolve, reject) => {
    req.once('continue', () => resolve());
    req.once('error', reject);
  });
  const answer = new Promise<any>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      res.once('error', reject);
    });
  });
  req.flushHeaders();
  return { accepted, send: () => req.end(json), answer };
}

it('keeps data, maintenance state and the generated admin across a restart of the same DATA_DIR', async () => {
  const first = await startKilnProcess(env);
  const bootstrap = first.logs.find((l) => l.event === 'bootstrap_admin');
  expect(bootstrap).toMatchObject({ email: 'admin@kiln.local' });
  const password: string = bootstrap!.generatedPassword;
  expect(password.length).toBeGreaterThanOrEqual(20);
  // Secrets stay in the data folder, readable by its owner only.
  expect(statSync(path.join(dataDir, 'jwt-secret')).mode & 0o077).toBe(0);

  const token = await loginToken(first.url, 'admin@kiln.local', password);
  const set = await gql(first.url, 'mutation { setMaintenanceMode(enabled: true, reason: "upgrade") { enabled } }', {}, token);
  expect(set.data).toEqual({ setMaintenanceMode: { enabled: true } });

  // A request in flight when SIGTERM arrives still gets its answer: the server has taken the
  // login (headers read) before the signal, and gets its body only once the shutdown has begun.
  const inFlight = requestInTwoSteps(first.url, { query: 'mutation($p: String!) { login(email: "admin@kiln.local", password: $p) { token } }', variables: { p: password } });
  await inFlight.accepted;
  first.child.kill('SIGTERM');
  await eventually('the gateway to begin its shutdown', () => first.logs.some((l) => /^shutting down/.test(l.msg)), 30_000, 10);
  inFlight.send();
  const answered = await inFlight.answer;
  expect(answered.data?.login?.token).toBeTruthy();
  expect(await first.exited).toBe(0);
  expect(first.logs.some((l) => l.msg === 'stopped')).toBe(true);

  const second = await startKilnProcess(env);
  try {
    expect(second.logs.some((l) => l.event === 'bootstrap_admin')).toBe(false);
    // The same JWT secret: the token from before the restart still works.
    const me = await gql(second.url, '{ me { email } maintenanceMode { enabled reason } }', {}, token);
    expect(me.data).toEqual({ me: { email: 'admin@kiln.local' }, maintenanceMode: { enabled: true, reason: 'upgrade' } });
    expect(await (await fetch(`${second.url}/maintenance`)).json()).toMatchObject({ enabled: true, reason: 'upgrade' });
    // No log line carries a token or the password again.
    const text = JSON.stringify(second.logs);
    expect(text).not.toContain(password);
    expect(text).not.toContain(token);
  } finally {
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }
  // A new cluster (initdb) and two gateway starts: past 60 s on a 2-core machine under stress-ng (seen twice).
}, 180_000);

it('refuses to start with a bad configuration, naming the bad keys', async () => {
  // Bounded by the process's own end (60 s at most), not by a start limit a loaded machine can miss.
  const run = await runKilnProcessToExit({ DATA_DIR: dataDir, PORT: 'abc', ADMIN_PASSWORD: 'short' });
  expect(run.code).not.toBe(0);
  const said = [...run.stdout, ...run.stderr].join('\n');
  expect(said).not.toContain('Kiln is ready');
  expect(said).toMatch(/PORT[\s\S]*ADMIN_PASSWORD/);
});
