// emberd's page in Debian's Chromium: it loads without script errors, lists the processes, its
// links open their flamegraphs and downloads, and the time-range choice works, with its script
// and without. The dashboard: the stacked chart of samples per process, dragging a range on it
// loads that range's flamegraph and what changed, one click shows the range's change against the
// range before, the function search draws a trend (or says why not), a process's resources.
// Run by ctest (label browser):
//   node index.test.mjs --emberd PATH --workload PATH --modules DIR [--out DIR]
// DIR holds node_modules/playwright-core (tests/flamegraph/browser, set up by scripts/deps); --out
// gets the screenshot of the dashboard (its path is printed). Exit 77 (skipped) without Chromium.
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
const outDir = option('--out');
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
// Refusals the page shows as they come, expected here: the resource series (metric=) by an emberd
// that does not serve them yet, and "what changed" when the range before has no samples yet (as
// over the last hour of an emberd started a minute ago).
const RESOURCES = /\/api\/v1\/series\?.*metric=/;
const NOTHING_BEFORE = /\/api\/v1\/compare\?/;
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
  workload = spawn(workloadPath, ['--seconds', '900'], { stdio: ['ignore', 'pipe', 'inherit'] });
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

// A page that records script errors, failed requests and console errors. Answers that are
// refusals (4xx) are the page's to show; Chromium logs each as a console error, which is kept
// unless its URL matches one of `refusals` (answers the test expects to be refused).
async function open(p, refusals = [], prepare = async () => {}) {
  const page = await context.newPage();
  await prepare(page);
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url ?? '';
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) &&
        refusals.some((r) => r.test(where))) return;
    errors.push(`console: ${msg.text()} (${where})`);
  });
  page.on('requestfailed', (req) => {
    // The page's own requests (and its flamegraph's frame) still under way when it navigates away
    // are cancelled, not failed.
    if (req.failure()?.errorText === 'net::ERR_ABORTED' && req.frame() !== page.mainFrame()) return;
    if (req.failure()?.errorText === 'net::ERR_ABORTED' && req.resourceType() === 'fetch') return;
    errors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`);
  });
  const response = await page.goto(new URL(p, url).href, { waitUntil: 'load' });
  return { page, errors, response };
}

test('the index page lists the workload and loads without errors', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors, response } = await open('/', [RESOURCES, NOTHING_BEFORE]);
  assert.equal(response.status(), 200);
  assert.match(await page.title(), /^emberd · /);
  const rows = await page.locator('#targets tbody tr').count();
  assert.ok(rows >= 1, 'at least one process row');
  assert.ok(await page.locator('a.comm', { hasText: 'seventy_thirty' }).count() >= 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every link on the page answers', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('/', [RESOURCES, NOTHING_BEFORE]);
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
  const { page, errors } = await open('/', [RESOURCES, NOTHING_BEFORE]);
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
  const { page, errors } = await open('/', [RESOURCES, NOTHING_BEFORE]);
  // With the script, choosing is enough.
  await Promise.all([page.waitForURL(/\?from=-15m$/), page.selectOption('select#from', '-15m')]);
  assert.match(page.url(), /\?from=-15m$/);
  assert.equal(await page.$eval('select#from', (s) => s.value), '-15m');
  const link = await page.getAttribute('#host-flamegraph', 'href');
  assert.equal(link, 'api/v1/flamegraph.svg?from=-15m');
  assert.deepEqual(errors, []);
  await page.close();
});

test('without its script the page is links and a form that work', { timeout: TEST_TIMEOUT }, async () => {
  const page = await context.newPage();
  await page.route('**/ui/dashboard.js', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: '' }));
  await page.goto(new URL('/', url).href, { waitUntil: 'load' });
  assert.equal(await page.isHidden('#dashboard'), true, 'the charts need the script: hidden without it');
  assert.ok(await page.locator('a.comm', { hasText: 'seventy_thirty' }).count() >= 1);
  await page.selectOption('select#from', '-6h');
  await Promise.all([page.waitForURL(/\?from=-6h$/), page.click('#range-form button[type=submit]')]);
  assert.equal(await page.getAttribute('#host-flamegraph', 'href'), 'api/v1/flamegraph.svg?from=-6h');
  await page.close();
});

// ---- the dashboard ----------------------------------------------------------------------------

// A short range, so that the workload's few seconds fill a visible part of the chart.
const RANGE = '-2m';
const WORKLOAD = 'seventy_thirty';
const FUNCTION = 'truth::Worker::compute_alpha';

// Waits until the workload's samples span `seconds` of RANGE: a range picked over the last part of
// the chart, and the same length before it, then both hold samples.
async function waitForSeconds(seconds) {
  let span = 0;
  for (let i = 0; i < 900; i++) {
    const r = await get(`/api/v1/series?from=${RANGE}&comm=${WORKLOAD}`);
    if (r.status === 200) {
      const series = JSON.parse(r.body);
      const first = series.steps.findIndex((s) => s.samples > 0);
      span = first < 0 ? 0 : (series.steps.length - first) * series.step_seconds;
      if (span >= seconds) return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail(`the workload's samples span ${span} s of ${RANGE}, not ${seconds} s`);
}

async function openDashboard(prepare) {
  await waitForSeconds(50);
  const opened = await open(`/?from=${RANGE}`, [RESOURCES, NOTHING_BEFORE], prepare);
  await opened.page.waitForSelector('#timeline[data-state=loaded]');
  return opened;
}

// The tooltips (frame names) of the SVG in the flamegraph's frame, once it has loaded `kind`.
async function flameTitles(page, kind) {
  await page.waitForSelector(`#flame[data-kind=${kind}][data-state=loaded]`);
  return page.frameLocator('#flame').locator('title').allTextContents();
}

// Drags over the last `fraction` of the chart's plot, as a person does with the mouse.
async function dragOverEnd(page, fraction) {
  const box = await page.locator('#timeline .plot-area').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * (1 - fraction), y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * (1 - fraction / 2), y, { steps: 5 });
  await page.mouse.move(box.x + box.width - 1, y, { steps: 5 });
  await page.mouse.up();
}

// Behind a reverse proxy that serves emberd under a path prefix (location /ember/ { proxy_pass
// http://emberd/; }): the page, its script, its charts and every link stay under the prefix.
test('behind a reverse proxy under a path prefix, every request stays under it', { timeout: TEST_TIMEOUT }, async () => {
  const outside = [];
  const { page, errors } = await open(`/ember/?from=${RANGE}`, [RESOURCES, NOTHING_BEFORE], async (p) => {
    await p.route('**/*', async (route) => {
      const u = new URL(route.request().url());
      if (!u.pathname.startsWith('/ember/')) {
        outside.push(u.pathname + u.search);
        return route.abort();
      }
      u.pathname = u.pathname.slice('/ember'.length);
      return route.fulfill({ response: await route.fetch({ url: u.href }) });
    });
  });
  await page.waitForSelector('#timeline[data-state=loaded]');
  assert.ok((await flameTitles(page, 'flamegraph')).some((t) => t.startsWith(FUNCTION)));
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.href));
  assert.ok(hrefs.length >= 8);
  for (const href of hrefs) assert.ok(new URL(href).pathname.startsWith('/ember/'), href);
  assert.deepEqual(outside, [], 'requests that left the prefix');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the dashboard stacks the samples of the top processes over time', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await openDashboard();
  const names = await page.$$eval('#timeline path.area', (ps) => ps.map((p) => p.dataset.series));
  assert.ok(names.some((n) => n.startsWith(`${WORKLOAD} (`)), names.join(', '));
  assert.ok(names.length <= 7, `at most 6 processes and "other": ${names.join(', ')}`);
  // Each area is a shape with points, and the legend names the same processes with their samples.
  const d = await page.getAttribute(`#timeline path.area[data-series^="${WORKLOAD} ("]`, 'd');
  assert.match(d, /^M[\d.]+,[\d.]+L/);
  const legend = await page.locator('#timeline-legend li').allTextContents();
  assert.ok(legend.some((t) => t.startsWith(`${WORKLOAD} (`) && / · [\d,]+ samples$/.test(t)), legend.join('\n'));
  // Before anything is picked, the flamegraph is the whole range's.
  assert.ok((await flameTitles(page, 'flamegraph')).some((t) => t.startsWith(FUNCTION)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('dragging over the chart loads that range\'s flamegraph, what changed and its diff', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await openDashboard();
  await page.waitForSelector('#flame[data-state=loaded]');
  const whole = await page.getAttribute('#flame', 'src');
  await dragOverEnd(page, 0.15);
  await page.waitForFunction((before) => document.querySelector('#flame').getAttribute('src') !== before, whole);
  const src = new URL(await page.getAttribute('#flame', 'src'), url);
  assert.equal(src.pathname, '/api/v1/flamegraph.svg');
  const from = Date.parse(src.searchParams.get('from'));
  const to = Date.parse(src.searchParams.get('to'));
  // About the last 18 s of two minutes, snapped to whole steps (a few seconds each), up to the end.
  assert.ok(to - from >= 10_000 && to - from <= 30_000, `${src}`);
  assert.ok(Date.now() - to < 30_000, `${src}`);
  assert.equal(await page.isVisible('#timeline rect.selection'), true);
  assert.ok((await flameTitles(page, 'flamegraph')).some((t) => t.startsWith(FUNCTION)));
  assert.match(await page.textContent('#selection-text'), /\(\d+ s\)$/);

  // What changed: the range against the one just before, a row per function.
  await page.waitForSelector('#changes[data-state=loaded]', { state: 'attached' });
  if (outDir) {
    // The dashboard as a person sees it after the drag, with a function's trend drawn too.
    await page.fill('#function-regex', 'compute_');
    await page.click('#function-search button[type=submit]');
    await page.waitForSelector('#function-chart[data-state=loaded]');
    fs.mkdirSync(outDir, { recursive: true });
    const shot = path.join(outDir, 'dashboard.png');
    await page.locator('#dashboard').screenshot({ path: shot });
    console.log(`daemon_browser: screenshot of the dashboard: ${shot}`);
  }
  // The whole host changes a lot (Chromium starts, emberd works): all rows, not the first ones.
  if (await page.isVisible('#changes-more')) await page.click('#changes-more');
  const rows = await page.$$eval('#changes tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const row = rows.find((r) => r[0] === FUNCTION);
  assert.ok(row, rows.map((r) => r.join(' | ')).join('\n'));
  assert.match(row[2], /^\d+\.\d+%$/);
  assert.match(row[3], /^\d+\.\d+%$/);
  assert.ok(['regression', 'improvement', 'unchanged', 'new', 'gone'].includes(row[5]), row.join(' | '));

  // One click: the change against the range before, from the same range.
  await page.click('#diff-toggle');
  assert.equal(await page.getAttribute('#diff-toggle', 'aria-pressed'), 'true');
  assert.ok((await flameTitles(page, 'diff')).some((t) => t.startsWith(FUNCTION)));
  const diff = new URL(await page.getAttribute('#flame', 'src'), url);
  assert.equal(diff.pathname, '/api/v1/diff.svg');
  assert.equal(diff.searchParams.get('from'), src.searchParams.get('from'));
  assert.equal(diff.searchParams.get('to'), src.searchParams.get('to'));
  assert.equal(new URL(await page.getAttribute('#flame-open', 'href'), url).href, diff.href);
  await page.click('#diff-toggle');
  await flameTitles(page, 'flamegraph');

  assert.deepEqual(errors, []);
  await page.close();
});

test('the function search draws the trend of the functions it matches', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await openDashboard();
  await page.fill('#function-regex', 'compute_alpha');
  await page.click('#function-search button[type=submit]');
  await page.waitForSelector('#function-chart[data-state=loaded]');
  const lines = await page.$$eval('#function-chart path.line', (ps) => ps.map((p) => [p.dataset.series, p.getAttribute('d')]));
  assert.deepEqual(lines.map(([name]) => name), [`${FUNCTION} · total`, `${FUNCTION} · self`]);
  for (const [name, d] of lines) assert.match(d, /^M[\d.]+,[\d.]+/, name);
  // The function runs all the time: its total line has a point in most steps with samples.
  assert.ok((lines[0][1].match(/[ML]/g) ?? []).length >= 12, lines[0][1]);
  assert.match(await page.textContent('#function-note'), /^1 function match/);
  assert.equal(await page.isHidden('#function-error'), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a bad function regex shows emberd\'s reason', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await openDashboard();
  const reason = await get(`/api/v1/series?from=${RANGE}&function=${encodeURIComponent('compute_(alpha')}`);
  assert.equal(reason.status, 400);
  assert.match(reason.body, /^function: /);
  await page.fill('#function-regex', 'compute_(alpha');
  await page.click('#function-search button[type=submit]');
  await page.waitForSelector('#function-chart[data-state=error]', { state: 'attached' });
  assert.equal(await page.textContent('#function-error'), reason.body.trim());
  assert.equal(await page.isVisible('#function-error'), true);
  assert.equal(await page.locator('#function-chart svg').count(), 0);
  // The 400 itself, which Chromium logs as a console error, and nothing else.
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /status of 400.*function=compute_%28alpha/);
  await page.close();
});

test('clicking a process shows its resources, or emberd\'s reason why not', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await openDashboard();
  // The workload's main process (its children, which come and go, may be listed after it).
  const button = page.locator('#timeline-legend button', { hasText: `${WORKLOAD} (` }).first();
  await button.click();
  assert.match(await page.textContent('#resources-process'), new RegExp(`^${WORKLOAD} \\(\\d+\\)$`));
  assert.equal(await button.getAttribute('aria-pressed'), 'true');
  const pid = await button.getAttribute('data-pid');
  await page.waitForSelector('#resource-charts[data-state=loaded], #resource-charts[data-state=error]',
                             { state: 'attached' });
  const answer = await get(`/api/v1/series?from=${RANGE}&metric=rss&pid=${pid}`);
  if (answer.status === 200) {
    // The resource series are served: a chart per metric, RSS drawn.
    await page.waitForSelector('#resource-charts[data-state=loaded]', { state: 'attached' });
    assert.equal(await page.locator('#resource-charts .chart').count(), 6);
    assert.match(await page.getAttribute('#resource-charts [data-metric=rss] path.line', 'd'), /^M/);
  } else {
    // Not served (yet): the reason, once, and no broken charts.
    assert.equal(answer.status, 400);
    await page.waitForSelector('#resource-charts[data-state=error]', { state: 'attached' });
    assert.equal(await page.textContent('#resources-error'), answer.body.trim());
    assert.equal(await page.locator('#resource-charts .chart').count(), 0);
  }
  // The process table picks a process too.
  const row = page.locator(`#targets tr[data-pid="${pid}"] button`).first();
  await row.click();
  assert.equal(await row.getAttribute('aria-pressed'), 'true');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the resource charts draw what /api/v1/series?metric= answers, gaps and units', { timeout: TEST_TIMEOUT }, async () => {
  // Answers as the resource series are specified (daemon/README.md): the usual series fields,
  // "metric", "unit" and a value or null (no data) per step, over the real steps of the range.
  const served = [];
  const { page, errors } = await openDashboard((p) => p.route(RESOURCES, async (route) => {
    const asked = new URL(route.request().url());
    const metric = asked.searchParams.get('metric');
    served.push(metric);
    asked.searchParams.delete('metric');
    const real = await (await route.fetch({ url: asked.href })).json();
    const steps = real.steps.map((s, i) => ({
      start: s.start,
      value: i % 5 === 2 ? null : metric === 'rss' ? (300 + 10 * i) * 2 ** 20 : i,
    }));
    const body = { ...real, metric, unit: metric === 'rss' ? 'bytes' : 'count', steps };
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
  }));
  await page.waitForSelector('#resource-charts[data-state=loaded]', { state: 'attached' });
  assert.deepEqual(served.sort(), ['cpu', 'ctx_switches', 'io_read', 'io_write', 'rss', 'threads']);
  assert.equal(await page.locator('#resource-charts .chart').count(), 6);
  assert.equal(await page.isHidden('#resources-error'), true);
  const titles = await page.locator('#resource-charts h3').allTextContents();
  assert.ok(titles.includes('Resident memory (bytes)'), titles.join(', '));
  // A step without data is a gap in the line, not a zero: the line starts again after each.
  const d = await page.getAttribute('#resource-charts [data-metric=rss] path.line', 'd');
  assert.ok((d.match(/M/g) ?? []).length >= 3, d);
  const labels = await page.locator('#resource-charts [data-metric=rss] .axis text').allTextContents();
  assert.ok(labels.some((t) => / MiB$/.test(t)), labels.join(', '));
  assert.deepEqual(errors, []);
  await page.close();
});
