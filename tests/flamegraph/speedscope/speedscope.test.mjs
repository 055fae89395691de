// ember's speedscope files checked with the real client (speedscope from npm, pinned in
// package-lock.json): a recording of a program with a named thread validates against
// speedscope's file-format-schema.json, and speedscope's web app, served on loopback and opened
// in Debian's Chromium, loads it with no error and lists the thread. Run by ctest (label browser):
//   node speedscope.test.mjs --ember PATH/ember --workload PATH/late_thread --out DIR
// Exit code 77 (skipped) when Chromium is absent; EMBER_CHROMIUM names another binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

import { launchChromium } from '../../support/chromium.mjs';

const SKIP = 77;
const argv = process.argv.slice(2);
function option(name) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}
const ember = option('--ember');
const workload = option('--workload');
const outDir = option('--out') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ember-speedscope-'));
const chromiumPath = process.env.EMBER_CHROMIUM ?? '/usr/bin/chromium';
if (!ember || !workload) {
  console.error('usage: node speedscope.test.mjs --ember PATH/ember --workload PATH/late_thread [--out DIR]');
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`speedscope_browser: skipped: no Chromium at ${chromiumPath} (Debian: chromium)`);
  process.exit(SKIP);
}
const require = createRequire(import.meta.url);
let chromium, Ajv, release;
try {
  ({ chromium } = await import('playwright-core'));
  Ajv = (await import('ajv')).default;
  release = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release');
} catch (err) {
  console.error('speedscope_browser: the pinned tools are missing: run ' +
                '`npm ci --prefix tests/flamegraph/speedscope` (scripts/deps does it)\n' + err.message);
  process.exit(1);
}

fs.mkdirSync(outDir, { recursive: true });
const recorded = path.join(outDir, 'run.speedscope.json');
const pprof = path.join(outDir, 'run.pb.gz');
const converted = path.join(outDir, 'converted.speedscope.json');
// late_thread: the main thread waits 0.2 s, then a thread named "late-worker" burns 1 s of CPU.
execFileSync(ember, ['record', '-F', '499', '-o', recorded, '-o', pprof, '--', workload,
                     '--delay', '0.2', '--seconds', '1'], { stdio: 'inherit', timeout: 60_000 });
execFileSync(ember, ['convert', pprof, '-o', converted], { stdio: 'inherit', timeout: 60_000 });

const TIMEOUT = 60_000;
let context, userDataDir, server, base;

before(async () => {
  // speedscope's release directory and the files under test, on loopback only.
  const files = { '/run.speedscope.json': recorded, '/converted.speedscope.json': converted };
  server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const file = files[url.pathname] ?? path.join(release, path.normalize(url.pathname === '/' ? '/index.html' : url.pathname));
    if (!file.startsWith(release) && !Object.values(files).includes(file)) { res.writeHead(403); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
                      '.wasm': 'application/wasm' };
      res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
      res.end(data);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-speedscope-chromium-'));
  context = await launchChromium(chromium, chromiumPath, userDataDir, TIMEOUT);
}, { timeout: 180_000 });

after(async () => {
  await context?.close();
  server?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

function load(file) { return JSON.parse(fs.readFileSync(file, 'utf8')); }

test('the recording validates against speedscope\'s file-format-schema.json', () => {
  const schema = load(path.join(release, 'file-format-schema.json'));
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  for (const file of [recorded, converted]) {
    const doc = load(file);
    assert.ok(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`);
  }
});

test('one profile per thread, in time order, with file and line', () => {
  const doc = load(recorded);
  const worker = doc.profiles.find((p) => p.name.startsWith('late-worker (tid '));
  assert.ok(worker, `no late-worker profile in ${doc.profiles.map((p) => p.name)}`);
  assert.equal(worker.unit, 'nanoseconds');
  assert.ok(worker.samples.length >= 20, `${worker.samples.length} samples`);
  assert.equal(worker.samples.length, worker.weights.length);
  // The worker started after the 0.2 s delay: its timeline starts later than the recording.
  assert.ok(worker.startValue >= 100_000_000, `startValue ${worker.startValue}`);
  const names = new Set(worker.samples.flat().map((i) => doc.shared.frames[i].name));
  assert.ok([...names].some((n) => n.includes('late_thread_work')), [...names].join(', '));
  const work = doc.shared.frames.find((f) => f.name.includes('late_thread_work'));
  assert.match(work.file, /late_thread\.cpp$/);
  assert.ok(work.line > 0);
  // The pprof file keeps the time order: converting it gives the same timeline.
  const again = load(converted);
  assert.deepEqual(again.profiles.map((p) => [p.name, p.weights.length, p.startValue]),
                   doc.profiles.map((p) => [p.name, p.weights.length, p.startValue]));
});

for (const name of ['run.speedscope.json', 'converted.speedscope.json']) {
  test(`speedscope's web app loads ${name} and shows the thread`, { timeout: 180_000 }, async () => {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
    await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(`${base}/${name}`)}`, { waitUntil: 'load' });
    // The toolbar names the active profile; the profile switcher lists every thread.
    const doc = load(path.join(outDir, name));
    const first = doc.profiles[doc.activeProfileIndex].name;
    await page.getByText(first, { exact: false }).first().waitFor({ timeout: TIMEOUT });
    if (doc.profiles.length > 1) {
      await page.getByText(first, { exact: false }).first().click();
      for (const p of doc.profiles) await page.getByText(p.name, { exact: false }).first().waitFor({ timeout: TIMEOUT });
    }
    const text = await page.evaluate(() => document.body.innerText);
    assert.match(text, /late-worker \(tid \d+\)/);
    assert.doesNotMatch(text, /Something went wrong|Failed to load/i);
    assert.deepEqual(errors, []);
    await page.close();
  });
}
