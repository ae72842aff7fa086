import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, haveChromium } from './chromium';

export { launchChromium } from './chromium';
const SCREENSHOTS = path.join(__dirname, '..', '..', 'screenshots');

/** `describe`, or `describe.skip` with the reason printed where no Chromium can be installed. */
export function describeInBrowser(name: string, body: () => void): void {
  if (!haveChromium) console.log(`${name}: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  (haveChromium ? describe : describe.skip)(name, body);
}

export interface OfflinePage {
  context: BrowserContext;
  page: Page;
  /** Requests that tried to leave the machine (refused). */
  outside: string[];
  /** Console errors and uncaught exceptions, CSP refusals among them. */
  problems: string[];
}

/** A page with no network but the gateway's: anything else is recorded and refused. */
export async function offlinePage(browser: Browser, options: { width?: number; height?: number } = {}): Promise<OfflinePage> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: options.width ?? 1280, height: options.height ?? 860 } });
  const outside: string[] = [];
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
  return { context, page, outside, problems };
}

/** Writes a screenshot to screenshots/ (git-ignored): the README shows two of them. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The CSP refusals among a page's problems: none is allowed. */
export const cspRefusals = (problems: string[]): string[] => problems.filter((p) => /Content Security Policy|Refused to/i.test(p));
