/** Requests a hostile client sends to make the gateway work or talk more than it should. */
import { loginToken, startTestKiln, type TestKiln } from './support/test-kiln';

let kiln: TestKiln;
const logs: Array<Record<string, any>> = [];
beforeAll(async () => {
  kiln = await startTestKiln({}, undefined, logs);
});
afterAll(async () => kiln?.close());

const post = async (body: string) => {
  const res = await fetch(`${kiln.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
};

it('answers a small request with a small answer: 5,000 bad keys give 10 short errors and a count, and no warning in the log', async () => {
  const input: Record<string, number> = {};
  for (let k = 0; k < 5000; k++) input[`k${k}`] = 1;
  const request = JSON.stringify({ query: 'mutation($i: CreateBackupInput) { createBackup(input: $i) { id } }', variables: { i: input } });
  expect(request.length).toBeGreaterThan(45_000);
  const before = logs.length;
  const res = await post(request);
  expect(res.status).toBe(400);
  // Before: 2.45 MB, each error echoing the whole value.
  expect(res.text.length).toBeLessThan(6_000);
  const errors = JSON.parse(res.text).errors;
  expect(errors.length).toBeLessThanOrEqual(11);
  expect(errors.every((e: any) => e.message.length <= 400 && e.extensions.code === 'BAD_USER_INPUT')).toBe(true);
  expect(logs.slice(before).filter((l) => l.level >= 40)).toEqual([]);
});

it('answers a NUL character in an id with 400/404, never 500', async () => {
  const token = await loginToken(kiln.url);
  const graphql = await fetch(`${kiln.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'query($id: ID!) { backup(id: $id) { id } job(id: $id) { id } }', variables: { id: 'abc\u0000def' } }),
  });
  const body = (await graphql.json()) as any;
  expect(body.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
  expect(body.errors[0].message).toContain('NUL');
  const download = await fetch(`${kiln.url}/backups/abc%00def/download`, { headers: { authorization: `Bearer ${token}` } });
  expect(download.status).toBe(404);
  expect(((await download.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
});
