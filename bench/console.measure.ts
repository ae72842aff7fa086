import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../src/config/version';
import { haveChromium, launchChromium } from '../test/support/chromium';
import { prepareDatabase, startBenchGateway } from './bench-databases';
import { verdict, type BenchContext, type ReportLine } from './bench-report';

const LOADS = 15;
const MAX_BUNDLE_GZIP_BYTES = 150 * 1024;
// A single-page app pays for its script before it can paint: within 3x a bare page from the same gateway.
const TARGET_FIRST_RENDER_RATIO = 3;
const ADMIN = { email: 'bench-console@kiln.local', password: 'bench-console-password' };

/**
 * CONSOLE lines (issue #11): the console's production bundle, gzipped, against its 150 KB budget;
 * time to first render (navigation to the sign-in form on screen, a fresh browser context each
 * time, so nothing is cached) against a bare page from the same gateway (/health) in the same
 * browser and run; after signing in, time until the overview shows its data; and GraphiQL's
 * time until it is ready, for scale. Chromium is Debian's (see STACK.md).
 */
export async function measureConsole(ctx: BenchContext): Promise<ReportLine[]> {
  const bundle = bundleBytes(path.join(PACKAGE_ROOT, 'dist', 'web'));
  const lines: ReportLine[] = [
    {
      metric: 'console: bundle (html, js, css), gzipped',
      value: `${(bundle / 1024).toFixed(1)} KB`,
      target: `<= ${MAX_BUNDLE_GZIP_BYTES / 1024} KB`,
      verdict: verdict(bundle <= MAX_BUNDLE_GZIP_BYTES),
    },
  ];
  if (!haveChromium) return [...lines, { metric: 'console: first render', value: '-', target: 'needs Debian chromium', verdict: 'skipped' }];

  const database = await prepareDatabase(ctx.server.url, 'kiln_bench_console', 200);
  // One admin signs in once a load, from one address: the login limits are the login flood's subject.
  const kiln = await startBenchGateway(ctx.workDir, database, ADMIN, { LOGIN_ATTEMPTS_PER_MINUTE: '1000' });
  const browser = await launchChromium();
  try {
    // One unmeasured load of each: the gateway reads its files into memory on the first request.
    await timedLoad(browser, `${kiln.url}/health`, (p) => p.locator('body').waitFor());
    await timedLoad(browser, `${kiln.url}/`, (p) => p.getByLabel('Email').waitFor());
    const bare: number[] = [];
    const consoleLoads: number[] = [];
    const overview: number[] = [];
    const playground: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      bare.push(await timedLoad(browser, `${kiln.url}/health`, (p) => p.getByText('"status"').waitFor()));
      consoleLoads.push(await timedLoad(browser, `${kiln.url}/`, (p) => p.getByLabel('Email').waitFor()));
      overview.push(await signedIn(browser, kiln.url));
    }
    for (let i = 0; i < 3; i++) playground.push(await timedLoad(browser, `${kiln.url}/graphql`, (p) => p.locator('.graphiql-container .monaco-editor').first().waitFor({ timeout: 60_000 })));
    const [b, c] = [median(bare), median(consoleLoads)];
    lines.push(
      { metric: 'console: bare page from the gateway (/health), p50', value: ms(b), target: `${LOADS} cold loads, fresh browser context each` },
      {
        metric: 'console: first render (sign-in form on screen), p50',
        value: ms(c),
        target: `<= ${TARGET_FIRST_RENDER_RATIO}x the bare page (${(c / b).toFixed(2)}x)`,
        verdict: verdict(c <= TARGET_FIRST_RENDER_RATIO * b),
      },
      { metric: 'console: sign in to the overview with its data, p50', value: ms(median(overview)), target: 'click to health, backups and maintenance shown' },
      { metric: 'playground (GraphiQL) ready, p50', value: ms(median(playground)), target: `for scale (${(median(playground) / c).toFixed(1)}x the console)` },
    );
    return lines;
  } finally {
    await browser.close();
    kiln.child.kill('SIGTERM');
    await kiln.exited;
  }
}

/** Sum of the console's files as the gateway sends them (gzip, level 9). */
function bundleBytes(dir: string): number {
  const files = [path.join(dir, 'index.html'), ...readdirSync(path.join(dir, 'assets')).map((f) => path.join(dir, 'assets', f))];
  return files.reduce((sum, file) => sum + gzipSync(readFileSync(file), { level: 9 }).length, 0);
}

async function timedLoad(browser: Browser, url: string, ready: (page: Page) => Promise<unknown>): Promise<number> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(url, { waitUntil: 'commit' });
    await ready(page);
    return performance.now() - started;
  } finally {
    await context.close();
  }
}

async function signedIn(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    const started = performance.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    try {
      await page.getByLabel('Backup health').waitFor({ timeout: 30_000 });
      await page.getByText('Last successful').waitFor();
      await page.getByText(/^(Off|On since)/).waitFor();
    } catch (err) {
      throw new Error(`the overview did not show; the page says: ${(await page.locator('body').innerText()).slice(0, 300)}`, { cause: err });
    }
    return performance.now() - started;
  } finally {
    await context.close();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (v: number) => `${v.toFixed(0)} ms`;
