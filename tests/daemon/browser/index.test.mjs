// emberd's index page in Debian's Chromium: it loads without script errors, lists the
// processes, its links open their flamegraphs and downloads, and the time-range choice works.
// Run by ctest (label browser):
//   node index.test.mjs --emberd PATH --workload PATH --modules DIR
// DIR holds node_modules/playwright-core (tests/flamegraph/browser, set up by scripts/deps).
// Exit 77 (skipped) without Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { launchChromium } from '../../support/chromium.mjs';

const SKIP = 77;
const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
};
const emberdPath = option('--emberd');
const workloadPath = option('--workload');
const modulesDir = option('--modules');
const chromiumPath = process.env.EMBER_CHROMIUM ?? '/usr/bin/chromium';
if (!emberdPath || !workloadPath || !modulesDir) {
  console.error('usage: node index.test.mjs --emberd PATH --workload PATH --modules DIR');
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`daemon_browser: skipped: no Chromium at ${chromiumPath} (Debian: chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = createRequire(path.join(modulesDir, 'package.json'))('playwright-core'));
} catch (err) {
  console.error('daemon_browser: playwright-core is missing: run `npm ci --prefix tests/flamegraph/browser` ' +
                '(scripts/deps does it)\n' + err.message);
  process.exit(1);
}

const TIMEOUT = 60_000;
const TEST_TIMEOUT = 180_000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'emberd-browser-'));
let emberd;
let workload;
let url;
let context;

function waitForLine(child, pattern, ms) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms: ${seen}`)), ms);
    child.stdout.on('data', (chunk) => {
      seen += chunk.toString();
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}: ${seen}`)));
  });
}

async function get(p) {
  const r = await fetch(new URL(p, url));
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

before(async () => {
  workload = spawn(workloadPath, ['--seconds', '120'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitForLine(workload, /ready/, 30_000);
  emberd = spawn(emberdPath, ['--listen', '127.0.0.1:0', '--data-dir', path.join(work, 'data'), '--interval', '1s'],
                 { stdio: ['ignore', 'pipe', 'ignore'] });
  [, url] = await waitForLine(emberd, /emberd: serving (\S+)/, 60_000);
  // Wait for snapshots that hold the workload.
  for (let i = 0; i < 300; i++) {
    const t = await get('/api/v1/targets');
    if (t.body.includes('seventy_thirty')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const userDataDir = path.join(work, 'chromium');
  context = await launchChromium(chromium, chromiumPath, userDataDir, TIMEOUT);
}, { timeout: TEST_TIMEOUT });

after(async () => {
  await context?.close();
  emberd?.kill('SIGTERM');
  workload?.kill('SIGKILL');
  await new Promise((r) => (emberd && emberd.exitCode === null ? emberd.on('exit', r) : r()));
  fs.rmSync(work, { recursive: true, force: true });
});

// A page that records script errors, failed requests and console errors.
async function open(p) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('requestfailed', (req) => errors.push(`requestfailed: ${req.url()}`));
  const response = await page.goto(new URL(p, url).href, { waitUntil: 'load' });
  return { page, errors, response };
}

test('the index page lists the workload and loads without errors', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors, response } = await open('/');
  assert.equal(response.status(), 200);
  assert.match(await page.title(), /^emberd · /);
  const rows = await page.locator('#targets tbody tr').count();
  assert.ok(rows >= 1, 'at least one process row');
  assert.ok(await page.locator('a.comm', { hasText: 'seventy_thirty' }).count() >= 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every link on the page answers', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('/');
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(hrefs.length >= 8);
  // Each distinct endpoint once (a page of many processes repeats the same kinds of links).
  const seen = new Set();
  for (const href of hrefs) {
    const kind = href.split('?')[0] + (href.includes('pid=') ? '#pid' : '') + (href.includes('comm=') ? '#comm' : '');
    if (seen.has(kind)) continue;
    seen.add(kind);
    const r = await get(href);
    assert.equal(r.status, 200, `${href}: ${r.body.slice(0, 200)}`);
  }
  assert.ok(seen.size >= 8, [...seen].join(' '));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a process link opens its flamegraph, which runs without errors', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('/');
  await page.locator('a.comm', { hasText: 'seventy_thirty' }).first().click();
  await page.waitForLoadState('load');
  assert.match(page.url(), /\/api\/v1\/flamegraph\.svg\?from=-1h&comm=%5Eseventy_thirty%24/);
  // The SVG's own script ran: frames have tooltips and the search button is there.
  const titles = await page.$$eval('title', (ts) => ts.map((t) => t.textContent));
  assert.ok(titles.some((t) => t.startsWith('truth::Worker::compute_alpha')), titles.slice(0, 20).join('\n'));
  assert.deepEqual(errors, []);
  await page.goBack();
  await page.waitForLoadState('load');
  await page.locator('a.pid').first().click();
  await page.waitForLoadState('load');
  assert.match(page.url(), /flamegraph\.svg\?from=-1h&pid=\d+/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the time-range choice reloads the page for that range', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('/');
  await page.selectOption('select#from', '-15m');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.match(page.url(), /\?from=-15m$/);
  assert.equal(await page.$eval('select#from', (s) => s.value), '-15m');
  const link = await page.getAttribute('#host-flamegraph', 'href');
  assert.equal(link, '/api/v1/flamegraph.svg?from=-15m');
  assert.deepEqual(errors, []);
  await page.close();
});
