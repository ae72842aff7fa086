/**
 * The playground in a real browser (Debian's Chromium through playwright-core) with no network
 * beyond the gateway: it loads from Kiln's own origin, runs a query and a subscription with the
 * bearer token from the Headers tab, and nothing on the page is blocked by its Content-Security-Policy.
 */
import type { Browser, Page, Request } from 'playwright-core';
import { cspRefusals, describeInBrowser, launchChromium, offlinePage, screenshot } from './support/browser';
import { gql, loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

/** Fills one of GraphiQL's editors (Monaco) once it is ready, and checks what it holds. */
async function fill(page: Page, editor: ReturnType<Page['locator']>, text: string): Promise<void> {
  await editor.locator('.monaco-editor .view-lines').waitFor({ state: 'visible', timeout: 30_000 });
  await editor.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  // insertText, not type: the editor would close brackets and quotes a second time.
  await page.keyboard.insertText(text);
  await until('the editor to hold the text', async () => (await editor.locator('.view-lines').textContent())?.replace(/\s/g, ''), (t) => t === text.replace(/\s/g, ''));
}

/**
 * Runs what the query editor holds. GraphiQL takes an editor's text into its state a moment
 * after the keystrokes: the run is repeated (at most five times) until the operation goes out.
 */
async function run(page: Page, sent: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const going = sent();
    await page.locator('.graphiql-execute-button').click();
    if ((await going) || attempt === 5) break;
  }
}

describeInBrowser('the playground', () => {
  let kiln: TestKiln;
  let browser: Browser;
  beforeAll(async () => {
    kiln = await startTestKiln();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.close();
  });

  it('loads offline from the gateway, runs a query and a subscription with the token from the Headers tab', async () => {
    const { context, page, outside, problems } = await offlinePage(browser);
    const response = await page.goto(`${kiln.url}/graphql`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self' 'sha256-/);
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });

    const token = await loginToken(kiln.url);
    await page.getByText('Headers', { exact: true }).click();
    await fill(page, page.locator('.graphiql-editor-tool .graphiql-editor').last(), `{"Authorization": "Bearer ${token}"}`);
    const queryEditor = page.locator('.graphiql-query-editor .graphiql-editor').first();
    await fill(page, queryEditor, '{ me { email role } }');
    // GraphiQL sends the operation without its spaces ({me{email role}}).
    const sendsMe = (r: Request) => r.method() === 'POST' && (r.postData() ?? '').replace(/\s/g, '').includes('me{emailrole}');
    await run(page, () => page.waitForRequest(sendsMe, { timeout: 5000 }).then(() => true, () => false));
    await until('the answer in the response pane', () => page.locator('.graphiql-response').textContent(), (text) => text?.includes(TEST_ADMIN.email) ?? false);

    // A subscription over graphql-ws: the token travels in the operation's extensions.headers.
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(String(f.payload))));
    await fill(page, queryEditor, 'subscription { jobProgress { id kind status } }');
    await run(page, () => until('the subscribe frame', async () => frames.some((f) => f.includes('"subscribe"')), (ok) => ok, 5000, 50).then(() => true, () => false));
    const started = await gql(kiln.url, 'mutation { createBackup { id } }', {}, token);
    const jobId = started.data!.createBackup.id as string;
    await until('the job in the response pane', () => page.locator('.graphiql-response').textContent(), (text) => text?.includes(jobId) ?? false);
    await kiln.services.jobs.settled(jobId);
    await screenshot(page, 'playground');

    expect(outside).toEqual([]);
    expect(cspRefusals(problems)).toEqual([]);
    await context.close();
  });
});

it.each([
  ['graphiql', 200, /<title>Kiln playground<\/title>/],
  ['sandbox', 200, /embeddable-sandbox|apollo/i],
  ['off', 400, /GET query missing|errors/],
] as const)('PLAYGROUND=%s: a browser opening /graphql gets the answer it names', async (mode, status, body) => {
  const kiln = await startTestKiln({ PLAYGROUND: mode });
  try {
    const res = await fetch(`${kiln.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(status);
    const text = await res.text();
    expect(text).toMatch(body);
    if (mode === 'graphiql') {
      // Self-contained: no script or style from anywhere else.
      expect(text).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/);
      expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self'; script-src 'self' 'sha256-/);
    }
    // API clients still get the API.
    const api = await fetch(`${kiln.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(api.headers.get('content-type')).toMatch(/json/);
  } finally {
    await kiln.close();
  }
});
