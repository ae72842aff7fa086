/**
 * The playground in a real browser (Debian's Chromium through playwright-core) with no network
 * beyond the gateway: it loads from Kiln's own origin, runs a query with a bearer token from the
 * Headers tab, and nothing on the page is blocked by its Content-Security-Policy.
 * (Subscriptions from the playground are issue 11's next step: its graphql-ws client sends no token.)
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { loginToken, startTestKiln, TEST_ADMIN, type TestKiln } from './support/test-kiln';
import { until } from './support/until';

const CHROMIUM = '/usr/lib/chromium/chromium';
const SCREENSHOTS = path.join(__dirname, '..', 'screenshots');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`playground tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

(haveChromium ? describe : describe.skip)('the playground', () => {
  let kiln: TestKiln;
  let browser: Browser;
  beforeAll(async () => {
    kiln = await startTestKiln();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.close();
  });

  it('loads offline from the gateway and runs a query with the token from the Headers tab', async () => {
    const context = await browser.newContext();
    const outside: string[] = [];
    // No network but the gateway's: anything else is recorded and refused.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      outside.push(url.href);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));

    const response = await page.goto(`${kiln.url}/graphql`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self' 'sha256-/);
    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });

    const token = await loginToken(kiln.url);
    // Fills one of GraphiQL's editors (Monaco) once it is ready, and checks what it holds.
    const fill = async (editor: ReturnType<typeof page.locator>, text: string) => {
      await editor.locator('.monaco-editor .view-lines').waitFor({ state: 'visible', timeout: 30_000 });
      await editor.locator('.monaco-editor .view-lines').click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      // insertText, not type: the editor would close brackets and quotes a second time.
      await page.keyboard.insertText(text);
      await until('the editor to hold the text', async () => (await editor.locator('.view-lines').textContent())?.replace(/\s/g, ''), (t) => t === text.replace(/\s/g, ''));
    };
    await page.getByText('Headers', { exact: true }).click();
    await fill(page.locator('.graphiql-editor-tool .graphiql-editor').last(), `{"Authorization": "Bearer ${token}"}`);
    await fill(page.locator('.graphiql-query-editor .graphiql-editor').first(), '{ me { email role } }');
    // GraphiQL takes an editor's text into its state a moment after the keystrokes: the run is
    // repeated (at most five times) until the query goes out.
    for (let attempt = 1; ; attempt++) {
      const sent = page.waitForRequest((r) => r.method() === 'POST' && (r.postData() ?? '').includes('me { email role }'), { timeout: 5000 }).then(() => true, () => false);
      await page.locator('.graphiql-execute-button').click();
      if ((await sent) || attempt === 5) break;
    }
    await until('the answer in the response pane', () => page.locator('.graphiql-response').textContent(), (text) => text?.includes(TEST_ADMIN.email) ?? false);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'playground.png') });

    expect(outside).toEqual([]);
    expect(problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
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
