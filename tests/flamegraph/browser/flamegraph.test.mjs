// Loads flame graphs in Debian's Chromium and uses them as a person would: hover, click to zoom,
// reset, search (button and Ctrl-F), Escape, reload. Run by ctest (label "browser"):
//   node flamegraph.test.mjs --fixtures PATH/flamegraph_browser_fixtures --out DIR
// Exit code 77 (skipped) when Chromium is absent; EMBER_CHROMIUM names another binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { launchChromium } from '../../support/chromium.mjs';

const SKIP = 77;
const argv = process.argv.slice(2);
function option(name) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}
const fixtures = option('--fixtures');
const outDir = option('--out') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ember-fg-svg-'));
const chromiumPath = process.env.EMBER_CHROMIUM ?? '/usr/bin/chromium';

if (!fixtures) {
  console.error('usage: node flamegraph.test.mjs --fixtures PATH/flamegraph_browser_fixtures [--out DIR]');
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`flamegraph_browser: skipped: no Chromium at ${chromiumPath} (Debian: chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.error('flamegraph_browser: playwright-core is missing: run ' +
                '`npm ci --prefix tests/flamegraph/browser` (scripts/deps does it)\n' + err.message);
  process.exit(1);
}

fs.mkdirSync(outDir, { recursive: true });
execFileSync(fixtures, [outDir], { stdio: 'inherit', timeout: 60_000 });

const FULL = 1180;  // the default 1200 px width less the 10 px margins
const TIMEOUT = 60_000;       // per browser operation
const TEST_TIMEOUT = 180_000; // per test: a hang fails the test instead of stalling ctest
let context;
let userDataDir;

before(async () => {
  // A fresh profile each run: nothing cached or remembered between runs.
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-fg-chromium-'));
  context = await launchChromium(chromium, chromiumPath, userDataDir, TIMEOUT);
}, { timeout: TEST_TIMEOUT });

after(async () => {
  await context?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

// Opens an SVG; `errors` collects uncaught exceptions and console errors of the page.
async function open(file) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  await page.goto(pathToFileURL(path.join(outDir, file)).href, { waitUntil: 'load' });
  return { page, errors };
}

// What is seen of every frame called `name` (tooltip "name (..."): its box cut to the frames'
// clip (x 10 to 1190), whether any of it shows, its opacity and fill.
function frames(page, name) {
  return page.evaluate((n) => {
    return [...document.querySelectorAll('#fg-frames rect')]
      .filter((r) => r.firstElementChild && r.firstElementChild.textContent.startsWith(n + ' ('))
      .map((r) => {
        const box = r.getBoundingClientRect();
        const style = getComputedStyle(r);
        const left = Math.max(box.left, 10), right = Math.min(box.right, 1190);
        return {
          x: left, y: box.y, width: Math.max(0, right - left), height: box.height,
          visible: style.display !== 'none' && right - left > 0.5,
          opacity: Number(style.opacity), fill: style.fill,
          title: r.firstElementChild.textContent, classes: r.getAttribute('class'),
        };
      });
  }, name);
}

// The name of the frame a click at (x, y) would reach, or null.
function hitAt(page, x, y) {
  return page.evaluate(([px, py]) => {
    const el = document.elementFromPoint(px, py);
    return el && el.localName === 'rect' && el.firstElementChild
      ? el.firstElementChild.textContent.replace(/ \(.*$/, '') : null;
  }, [x, y]);
}

async function frame(page, name) {
  const found = await frames(page, name);
  assert.equal(found.length, 1, `exactly one frame named ${name}`);
  return found[0];
}

async function clickFrame(page, name) {
  const f = await frame(page, name);
  assert.ok(f.visible, `${name} is visible`);
  await page.mouse.click(f.x + f.width / 2, f.y + f.height / 2);
}

async function clickText(page, id) {
  const box = await page.locator(`#${id}`).boundingBox();
  assert.ok(box, `#${id} is shown`);
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

const text = (page, id) => page.locator(`#${id}`).textContent();
const shown = (page, id) =>
  page.locator(`#${id}`).evaluate((el) => getComputedStyle(el).display !== 'none');
const zoomLabels = (page) =>
  page.evaluate(() => [...document.querySelectorAll('#fg-zlabels text')].map((t) => t.textContent));

async function search(page, term, how = 'keys') {
  page.once('dialog', (dialog) => dialog.accept(term));
  if (how === 'keys') await page.keyboard.press('Control+f');
  else await clickText(page, 'fg-search');
  await page.waitForFunction(() => document.getElementById('fg-matched').textContent !== '');
}

function near(actual, expected, what, tolerance = 0.6) {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected}`);
}

test('draws every frame with widths by value, and shows details on hover', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  assert.equal(await page.locator('#fg-frames rect').count(), 13);
  near((await frame(page, 'all')).width, FULL, 'root width');
  near((await frame(page, 'compute')).width, 0.6 * FULL, 'compute width');
  near((await frame(page, 'alpha')).width, 0.3 * FULL, 'alpha width');
  const compute = await frame(page, 'compute');
  await page.mouse.move(compute.x + 5, compute.y + 5);
  assert.equal(await text(page, 'fg-details'), 'Function: compute (600 samples, 60.00%)');
  await page.mouse.move(1, 1);
  assert.equal(await text(page, 'fg-details'), '');
  assert.deepEqual(errors, []);
  await page.close();
});

test('click zooms: the frame fills the width, ancestors stay greyed, the rest is hidden', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  assert.equal(await shown(page, 'fg-unzoom'), false);
  await clickFrame(page, 'compute');
  const compute = await frame(page, 'compute');
  near(compute.x, 10, 'zoomed x');
  near(compute.width, FULL, 'zoomed width');
  near((await frame(page, 'alpha')).width, FULL / 2, 'alpha within compute');
  near((await frame(page, 'beta')).width, FULL / 3, 'beta within compute');
  for (const ancestor of ['main', 'app', 'all']) {
    const a = await frame(page, ancestor);
    assert.ok(a.visible, `${ancestor} stays`);
    near(a.width, FULL, `${ancestor} width`);
    assert.equal(a.opacity, 0.5, `${ancestor} is greyed`);
  }
  for (const other of ['idle', 'parse', 'read_[k]']) {
    assert.equal((await frame(page, other)).visible, false, `${other} is hidden`);
  }
  assert.equal((await frame(page, 'compute')).opacity, 1);
  // What a pointer reaches is what is drawn: ancestors across the width, nothing from outside.
  const mainRow = (await frame(page, 'main')).y + 5;
  const alphaRow = (await frame(page, 'alpha')).y + 5;
  assert.equal(await hitAt(page, 1185, mainRow), 'main');
  assert.equal(await hitAt(page, 15, mainRow), 'main');
  assert.equal(await hitAt(page, 300, alphaRow), 'alpha');
  assert.equal(await hitAt(page, 700, alphaRow), 'beta');
  assert.equal(await hitAt(page, 1185, alphaRow), null);
  const labels = await zoomLabels(page);
  assert.ok(labels.includes('compute') && labels.includes('alpha') && labels.includes('beta'), labels.join());
  assert.equal(await shown(page, 'fg-labels'), false);
  assert.equal(await shown(page, 'fg-unzoom'), true);

  await clickText(page, 'fg-unzoom');
  near((await frame(page, 'compute')).width, 0.6 * FULL, 'width after reset');
  assert.equal((await frame(page, 'idle')).visible, true);
  assert.equal((await frame(page, 'main')).opacity, 1);
  assert.equal(await shown(page, 'fg-unzoom'), false);
  assert.deepEqual(await zoomLabels(page), []);

  // Zooming into the root is a reset too.
  await clickFrame(page, 'alpha');
  near((await frame(page, 'alpha')).width, FULL, 'alpha zoomed');
  await clickFrame(page, 'all');
  near((await frame(page, 'alpha')).width, 0.3 * FULL, 'alpha after the root was clicked');
  assert.equal(await shown(page, 'fg-unzoom'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('sandwich: callers above, callees below, and a zoom stays on its side', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('sandwich.svg');
  const f = await frame(page, 'f');
  near(f.width, FULL, 'f is the middle row');
  const [a, b, x] = [await frame(page, 'a'), await frame(page, 'b'), await frame(page, 'x')];
  near(a.y + a.height + 1, f.y, 'callers right above f', 1);
  near(f.y + f.height + 1, x.y, 'callees right below f', 1);
  near(a.width, 0.5 * FULL, 'a: 30 of 60');
  near(b.width, 0.5 * FULL, 'b: 30 of 60');
  // A callee zoomed: f stays greyed above it, the callers leave the view.
  await clickFrame(page, 'x');
  near((await frame(page, 'x')).width, FULL, 'x zoomed');
  assert.equal((await frame(page, 'f')).opacity, 0.5);
  for (const other of ['a', 'b', 'y']) assert.equal((await frame(page, other)).visible, false, `${other} is hidden`);
  // A caller zoomed: its own callers stay, the callees leave.
  await clickFrame(page, 'f');
  await clickFrame(page, 'b');
  near((await frame(page, 'b')).width, FULL, 'b zoomed');
  assert.equal((await frame(page, 'f')).opacity, 0.5);
  for (const other of ['a', 'x', 'y']) assert.equal((await frame(page, other)).visible, false, `${other} is hidden`);
  const mains = (await frames(page, 'main')).filter((m) => m.visible);
  assert.equal(mains.length, 1);
  near(mains[0].width, FULL, 'the main above b');
  await page.keyboard.press('Escape');
  near((await frame(page, 'a')).width, 0.5 * FULL, 'a after Escape');
  assert.equal((await frame(page, 'x')).visible, true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('search highlights matches and counts a recursive function once', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  await search(page, 'recurse');
  const recursive = await frames(page, 'recurse');
  assert.equal(recursive.length, 3);
  for (const f of recursive) assert.equal(f.fill, 'rgb(230, 0, 230)');
  assert.notEqual((await frame(page, 'compute')).fill, 'rgb(230, 0, 230)');
  // Three levels of the same 150 samples: 15%, not 45%.
  assert.equal(await text(page, 'fg-matched'), 'Matched: 15.00%');

  await search(page, 'compute|alpha', 'button');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 60.00%');
  assert.equal((await frame(page, 'alpha')).fill, 'rgb(230, 0, 230)');
  assert.equal((await frames(page, 'recurse'))[0].fill === 'rgb(230, 0, 230)', false);

  // Case matters until "ic" (or Ctrl-I) says otherwise; the search is redone at once.
  await search(page, 'ALPHA');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 0.00%');
  await page.keyboard.press('Control+i');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 30.00%');
  assert.match(page.url(), /#search=ALPHA&ic=1$/);
  await clickText(page, 'fg-ic');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 0.00%');

  await clickText(page, 'fg-clear');
  assert.equal(await text(page, 'fg-matched'), '');
  assert.notEqual((await frame(page, 'alpha')).fill, 'rgb(230, 0, 230)');
  assert.equal(await shown(page, 'fg-clear'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('search within a zoom reports both shares; Escape clears search and zoom', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  await clickFrame(page, 'compute');
  await search(page, '^alpha$');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 50.00% of zoomed frame (30.00% of all)');
  await page.keyboard.press('Escape');
  assert.equal(await text(page, 'fg-matched'), '');
  near((await frame(page, 'compute')).width, 0.6 * FULL, 'unzoomed');
  assert.notEqual((await frame(page, 'alpha')).fill, 'rgb(230, 0, 230)');
  assert.equal(await shown(page, 'fg-unzoom'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a bad regular expression is reported, not thrown', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  await search(page, '(unclosed');
  assert.match(await text(page, 'fg-matched'), /^Invalid regular expression/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('zoom and search survive a reload through the URL fragment', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('plain.svg');
  await clickFrame(page, 'parse');
  await search(page, 'recurse');
  assert.match(page.url(), /#zoom=\d+\.\d+&search=recurse$/);
  await page.reload({ waitUntil: 'load' });
  near((await frame(page, 'parse')).width, FULL, 'parse still zoomed');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 75.00% of zoomed frame (15.00% of all)');
  await page.keyboard.press('Escape');
  assert.doesNotMatch(page.url(), /#/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a frame of a tenth of a pixel zoomed 9,447 times fills the width exactly', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('precision.svg');
  assert.equal((await frame(page, 'small')).title, 'small (1.06 s of CPU, 0.01%)');
  // Too narrow to click: zoom through the URL fragment, as a shared link would.
  const where = await page.evaluate(() => {
    const data = JSON.parse(document.getElementById('fg-data').textContent);
    const name = data.names.indexOf('small');
    const level = data.levels[2];
    for (let j = 0; j < level.length / 3; j++) if (level[3 * j] === name) return `2.${j}`;
    return null;
  });
  assert.ok(where);
  await page.goto(page.url().split('#')[0] + '#zoom=' + where, { waitUntil: 'load' });
  await page.reload({ waitUntil: 'load' });
  for (const name of ['small', 'inner', 'app', 'all']) {
    const f = await frame(page, name);
    near(f.x, 10, `${name} left edge`);
    near(f.width, FULL, `${name} width`);
  }
  assert.equal((await frame(page, 'big')).visible, false);
  assert.equal((await frame(page, 't_after')).visible, false);
  const row = (await frame(page, 'small')).y + 5;
  assert.equal(await hitAt(page, 11, row), 'small');
  assert.equal(await hitAt(page, 1189, row), 'small');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an icicle graph zooms the same way, growing downwards', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('inverted.svg');
  const before = await frame(page, 'compute');
  assert.ok((await frame(page, 'alpha')).y > before.y, 'children below parents');
  await clickFrame(page, 'compute');
  near((await frame(page, 'compute')).width, FULL, 'zoomed width');
  near((await frame(page, 'compute')).y, before.y, 'same row', 0.01);
  assert.equal((await frame(page, 'idle')).visible, false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('hostile names stay text: nothing they contain runs', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('hostile.svg');
  const names = await page.evaluate(() => JSON.parse(document.getElementById('fg-data').textContent).names);
  const hostile = names.filter((n) => n !== 'all' && n !== 'app');
  assert.equal(hostile.length, 7);
  for (const name of hostile) {
    const f = await frame(page, name);
    await page.mouse.move(f.x + f.width / 2, f.y + f.height / 2);
    assert.ok((await text(page, 'fg-details')).startsWith(`Function: ${name} (`));
    await page.mouse.click(f.x + f.width / 2, f.y + f.height / 2);
    assert.ok((await zoomLabels(page)).some((label) => name.startsWith(label.replace(/\.\.$/, ''))));
    await page.keyboard.press('Escape');
  }
  await search(page, 'script|onload|onerror');
  assert.match(await text(page, 'fg-matched'), /^Matched: /);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('script').count(), 2);
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.locator('svg').count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a differential graph has the same interactions and says what changed', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('diff.svg');
  const alpha = await frame(page, 'alpha');
  assert.match(alpha.title, /^alpha \(150 → 300 samples, share 15\.00% → 30\.00%, \+100\.0%\)$/);
  assert.match(alpha.fill, /^rgb\(255, \d+, \d+\)$/);
  assert.match((await frame(page, 'beta')).fill, /^rgb\(\d+, \d+, 255\)$/);
  await clickFrame(page, 'compute');
  near((await frame(page, 'compute')).width, FULL, 'zoomed width');
  await search(page, 'read');
  assert.equal(await text(page, 'fg-matched'), 'Matched: 0.00% of zoomed frame (10.00% of all)');
  assert.deepEqual(errors, []);
  await page.close();
});

// Line charts (ember trend, ember scale): hover a point for its series, run and value; hover a
// legend entry to bring its line forward; hostile names stay text.
test('a trend chart shows the run and the value on hover, with no script error', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('trend.svg');
  const points = page.locator('.chart-point');
  assert.equal(await points.count(), 6);
  const box = await points.nth(2).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  assert.equal(await text(page, 'chart-details'), 'hash (self) — 2026-12-03 10:00:00: 30.00%');
  const dimmed = await page.evaluate(() =>
    [...document.querySelectorAll('.chart-series')].map((g) => g.classList.contains('dim')));
  assert.deepEqual(dimmed, [false, true]);
  await page.mouse.move(1, 1);
  assert.equal((await text(page, 'chart-details')).trim(), '');
  // The hostile name is shown as text, not run.
  assert.equal(await page.evaluate(() => document.querySelectorAll('script').length), 1);
  assert.ok((await page.locator('.chart-legend').nth(1).textContent()).includes('<script>'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a log-log scale chart draws fitted lines and hovers its points', { timeout: TEST_TIMEOUT }, async () => {
  const { page, errors } = await open('scale.svg');
  assert.equal(await page.locator('.chart-point').count(), 6);
  assert.equal(await page.locator('polyline.fit').count(), 2);
  const legend = await page.locator('.chart-legend').nth(1).boundingBox();
  await page.mouse.move(legend.x + 5, legend.y + legend.height / 2);
  const dimmed = await page.evaluate(() =>
    [...document.querySelectorAll('.chart-series')].map((g) => g.classList.contains('dim')));
  assert.deepEqual(dimmed, [true, false]);
  const box = await page.locator('.chart-point').nth(1).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  assert.equal(await text(page, 'chart-details'), 'quadratic (self) k=2.00 — 10000: 100 ms');
  assert.deepEqual(errors, []);
  await page.close();
});
