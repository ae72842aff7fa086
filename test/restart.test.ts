import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKilnProcess } from './support/kiln-process';
import { gql, loginToken } from './support/test-kiln';

// The zero-setup path end to end: `node dist/src/main.js` with no DATABASE_URL
// starts an embedded PostgreSQL in DATA_DIR and keeps everything across restarts.
const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('keeps data, maintenance state and the generated admin across a restart of the same DATA_DIR', async () => {
  const first = await startKilnProcess({ DATA_DIR: dataDir });
  const bootstrap = first.logs.find((l) => l.event === 'bootstrap_admin');
  expect(bootstrap).toMatchObject({ email: 'admin@kiln.local' });
  const password: string = bootstrap!.generatedPassword;
  expect(password.length).toBeGreaterThanOrEqual(20);
  // Secrets stay in the data folder, readable by its owner only.
  expect(statSync(path.join(dataDir, 'jwt-secret')).mode & 0o077).toBe(0);

  const token = await loginToken(first.url, 'admin@kiln.local', password);
  const set = await gql(first.url, 'mutation { setMaintenanceMode(enabled: true, reason: "upgrade") { enabled } }', {}, token);
  expect(set.data).toEqual({ setMaintenanceMode: { enabled: true } });

  // A request in flight when SIGTERM arrives still gets its answer (login runs bcrypt, ~0.2 s).
  const inFlight = gql(first.url, 'mutation($p: String!) { login(email: "admin@kiln.local", password: $p) { token } }', { p: password });
  await new Promise((r) => setTimeout(r, 30));
  first.child.kill('SIGTERM');
  const answered = await inFlight;
  expect(answered.data?.login?.token).toBeTruthy();
  expect(await first.exited).toBe(0);
  expect(first.logs.some((l) => l.msg === 'stopped')).toBe(true);

  const second = await startKilnProcess({ DATA_DIR: dataDir });
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
});

it('refuses to start with a bad configuration, naming the bad keys', async () => {
  await expect(startKilnProcess({ DATA_DIR: dataDir, PORT: 'abc', ADMIN_PASSWORD: 'short' }, 10_000)).rejects.toThrow(
    /PORT[\s\S]*ADMIN_PASSWORD/,
  );
});
