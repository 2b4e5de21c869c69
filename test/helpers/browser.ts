// Headless Chromium for the portal's tests: Debian's `chromium` (installed by .ci/run), driven by
// playwright-core, which downloads nothing. Screenshots go to test-artifacts/ (gitignored).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './repo.ts';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const found = [process.env.CHROMIUM_PATH, ...CANDIDATES].find((p): p is string => !!p && existsSync(p));
  if (!found)
    throw new Error(
      "No Chromium found: install Debian's `chromium` (apt-get install -y chromium) or set CHROMIUM_PATH.",
    );
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/** A fresh browser profile; the system's certificates come from a test CA the browser does not know. */
export async function newContext(browser: Browser, viewport = LAPTOP): Promise<BrowserContext> {
  return browser.newContext({
    viewport,
    ignoreHTTPSErrors: true,
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
}

export const ARTIFACTS = path.join(REPO, 'test-artifacts');

/** Saves a full-page screenshot as test-artifacts/{folder}/{name}.png and gives back its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const dir = path.join(ARTIFACTS, folder);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Collects what the page logs as errors and its failed requests, for messages when a step fails. */
export function watchConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m) => m.type() === 'error' && lines.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`page error: ${e.message}`));
  return lines;
}

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core in the page and fails on any serious or critical violation. The script is evaluated
 * through the debugging protocol, which the page's content security policy does not govern (a
 * script tag would be refused, as it should be).
 */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(await axeSource);
  const { passes, violations } = await page.evaluate(async () => {
    type Results = { passes: unknown[]; violations: AxeViolation[] };
    const axe = (globalThis as unknown as { axe: { run: (c: unknown) => Promise<Results> } }).axe;
    const results = await axe.run(document);
    return {
      passes: results.passes.length,
      violations: results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target })),
      })),
    };
  });
  assert.ok(passes > 0, `axe-core checked nothing on ${what}`);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`),
    [],
    `accessibility of ${what}`,
  );
}

/** Fails when the page is wider than the screen (a phone's, say). */
export async function assertNoSidewaysOverflow(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} is ${overflow}px wider than the screen`);
}
