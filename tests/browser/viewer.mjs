// The trace viewer in a real browser (viewer): the demo's `--serve` mounts
// it after its workload; headless Chromium (Debian's, driven by
// playwright-core) opens the list, filters it to errors, opens a trace and
// the dependency page, and checks each against the viewer's JSON API.
// Screenshots go to target/browser/.
//
//   cargo build -p demo && (cd tests/browser && npm ci && npm test)
//
// Loopback only; the whole run is bounded (two minutes).

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';

const root = new URL('../../', import.meta.url).pathname;
const demoBin = process.env.DEMO_BIN ?? join(root, 'target/debug/demo');
const shots = join(root, 'target/browser');
mkdirSync(shots, { recursive: true });

const deadline = setTimeout(() => {
  console.error('browser test: over two minutes, stopping');
  process.exit(1);
}, 120_000);

const demo = spawn(demoBin, ['--serve'], {
  env: { ...process.env, NO_COLOR: '1', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.on('exit', () => demo.kill('SIGKILL'));

/** The viewer's URL, once the demo has run its workload and serves. */
const base = await new Promise((resolve, reject) => {
  let url;
  const lines = createInterface({ input: demo.stdout });
  lines.on('line', (line) => {
    const found = line.match(/the traces in a browser: (http:\/\/127\.0\.0\.1:\d+)\//);
    if (found) url = found[1];
    if (line.startsWith('Ctrl-C')) resolve(url);
  });
  demo.on('exit', (code) => reject(new Error(`the demo exited (${code}) before serving`)));
});
assert.ok(base, 'the demo printed the viewer URL');
const api = async (path) => (await fetch(base + path)).json();
const ids = (answer) => answer.data.map((t) => t.traceID).sort();

const userDataDir = mkdtempSync(join(tmpdir(), 'viewer-chromium-'));
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const page = browser.pages()[0] ?? (await browser.newPage());
page.setDefaultTimeout(15_000);
// Nothing but the viewer is asked for: no asset from the network.
const elsewhere = [];
page.on('request', (request) => {
  if (!request.url().startsWith(base)) elsewhere.push(request.url());
});
const errors = [];
page.on('pageerror', (error) => errors.push(String(error)));

try {
  // The list, after the demo's workload: its seven traces.
  await page.goto(`${base}/`);
  const listed = await page.$$eval('#traces tr.trace', (rows) => rows.map((r) => r.dataset.traceId).sort());
  assert.deepEqual(listed, ids(await api('/api/traces')), 'the list shows the stored traces');
  assert.equal(listed.length, 7, 'the workload made seven');
  await page.screenshot({ path: join(shots, 'list.png'), fullPage: true });
  console.log(`list: ${listed.length} traces, as /api/traces`);

  // Errors only, through the form.
  await page.check('input[name=errors]');
  await Promise.all([page.waitForURL(/errors=true/), page.click('form.filters button')]);
  const failed = await page.$$eval('#traces tr.trace', (rows) =>
    rows.map((r) => ({ id: r.dataset.traceId, marked: r.querySelector('.error') !== null })),
  );
  assert.deepEqual(failed.map((r) => r.id).sort(), ids(await api('/api/traces?errors=true')));
  assert.equal(failed.length, 2, 'two failed in the workload');
  assert.ok(failed.every((r) => r.marked), 'each marked as an error');
  assert.ok(await page.isChecked('input[name=errors]'), 'the form keeps the filter');
  await page.screenshot({ path: join(shots, 'list-errors.png'), fullPage: true });
  console.log(`errors only: ${failed.length} traces, each marked, as /api/traces?errors=true`);

  // The slow trace: rows match its spans, nested by parent; the critical
  // path is marked.
  const [slow] = (await api('/api/traces?minDuration=300ms')).data;
  await page.goto(`${base}/traces/${slow.traceID}`);
  const rows = await page.$$eval('#waterfall details.row', (rows) =>
    rows.map((r) => ({
      id: r.dataset.spanId,
      parent: r.dataset.parentId,
      depth: Number(r.dataset.depth),
      critical: r.dataset.critical === 'true',
      bar: r.querySelector('.bar').getBoundingClientRect().width,
      crit: [...r.querySelectorAll('.crit')].map((c) => c.getBoundingClientRect().width),
    })),
  );
  const spans = slow.spans;
  assert.deepEqual(rows.map((r) => r.id), spans.map((s) => s.spanID), 'one row per span, in tree order');
  for (const [i, row] of rows.entries()) {
    const parent = spans[i].references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '';
    assert.equal(row.parent, parent, `row ${i}'s parent`);
    const above = rows.findIndex((r) => r.id === parent);
    assert.equal(row.depth, above < 0 ? 0 : rows[above].depth + 1, `row ${i} nested under its parent`);
    assert.ok(row.bar > 0, `row ${i} has a bar`);
    assert.equal(row.critical, row.crit.length > 0, `row ${i}: marked where the path runs`);
  }
  assert.ok(rows[0].critical, 'the root is on the critical path');
  assert.ok(rows.filter((r) => r.critical).length >= 2, 'and so is what it waited for');
  assert.ok(rows.flatMap((r) => r.crit).every((w) => w > 0), 'the path is drawn');
  // Details one click away.
  await page.click('#waterfall details.row:nth-of-type(1) summary');
  const details = await page.textContent('#waterfall details.row[open] .details');
  assert.match(details, /http\.route/);
  await page.screenshot({ path: join(shots, 'trace.png'), fullPage: true });
  console.log(
    `trace ${slow.traceID}: ${rows.length} rows for ${spans.length} spans, nested, ` +
      `${rows.filter((r) => r.critical).length} on the critical path`,
  );

  // The failing trace: the exception is a red mark on the users span's
  // bar, inside it, and a red line in its details; the gateway's own span
  // is in the waterfall.
  const [broken] = (await api('/api/traces?tags=user.id%3Dbroken')).data;
  assert.ok(broken, 'the tag search finds the broken user\'s trace');
  await page.goto(`${base}/traces/${broken.traceID}`);
  const exception = page.locator('#waterfall details.row.failed .mark.exception');
  assert.equal(await exception.count(), 1, 'one exception mark');
  const mark = await exception.evaluate((m) => {
    const bar = m.parentElement.querySelector('.bar').getBoundingClientRect();
    const box = m.getBoundingClientRect();
    return { colour: getComputedStyle(m).backgroundColor, left: box.left, right: box.right, barLeft: bar.left, barRight: bar.right, width: box.width, height: box.height };
  });
  assert.ok(mark.width > 0 && mark.height > 0, 'the mark is drawn');
  assert.ok(mark.left >= mark.barLeft - 2 && mark.right <= mark.barRight + 2, `the mark is on its span's bar: ${JSON.stringify(mark)}`);
  const err = await page.evaluate(() => getComputedStyle(document.querySelector('.error') ?? document.body).color);
  assert.equal(mark.colour, err, 'red, as errors are');
  const row = page.locator('#waterfall details.row.failed', { has: page.locator('.mark.exception') });
  await row.locator('summary').click();
  const line = await row.locator('.details tr.event.exception').textContent();
  assert.match(line, /exception\.message=the user's record is corrupt/);
  await page.screenshot({ path: join(shots, 'trace-exception.png'), fullPage: true });
  console.log(`trace ${broken.traceID}: the exception marked in red on its span and in its details`);

  // A trace with the gateway's own span and its event, found by the form.
  await page.goto(`${base}/`);
  await page.fill('input[name=tags]', 'user.id=7');
  await Promise.all([page.waitForURL(/tags=user.id/), page.click('form.filters button')]);
  const tagged = await page.$$eval('#traces tr.trace', (rows) => rows.map((r) => r.dataset.traceId).sort());
  assert.deepEqual(tagged, ids(await api('/api/traces?tags=user.id%3D7')), 'the form searches by tag');
  const priced = (await api('/api/traces?tags=user.id%3D7')).data.find((t) =>
    t.spans.some((s) => s.operationName === 'price.quote' && s.logs.length > 0),
  );
  assert.ok(priced, 'a checkout the gateway priced');
  await page.goto(`${base}/traces/${priced.traceID}`);
  const quote = page.locator('#waterfall details.row', { hasText: 'price.quote' });
  assert.equal(await quote.count(), 1, 'the gateway\'s own span is in the waterfall');
  assert.equal(await quote.locator('.mark:not(.exception)').count(), 1, 'with its event marked');
  await page.screenshot({ path: join(shots, 'trace-own-span.png'), fullPage: true });
  console.log(`tags user.id=7: ${tagged.length} traces; ${priced.traceID} shows the gateway's price.quote span and its event`);

  // The dependency graph: its edges are the API's.
  await page.goto(`${base}/dependencies`);
  const edges = await page.$$eval('#graph g.edge', (edges) =>
    edges.map((e) => ({ ...e.dataset })).map((d) => `${d.parent}->${d.child} ${d.protocol} ${d.calls}/${d.errors}`),
  );
  const expected = (await api('/api/dependencies')).data.map(
    (d) => `${d.parent}->${d.child} ${d.protocol} ${d.callCount}/${d.errorCount}`,
  );
  assert.deepEqual(edges.sort(), expected.sort());
  assert.equal(await page.locator('#graph g.node').count(), 3, 'three services');
  // Each edge's label, as drawn: its box crosses no node, no other label
  // and no line.
  const overlaps = await page.$eval('#graph', (svg) => {
    const origin = svg.getBoundingClientRect();
    const boxes = (selector) => [...svg.querySelectorAll(selector)].map((el) => el.getBoundingClientRect());
    const labels = boxes('g.edge text');
    const nodes = boxes('g.node rect:first-of-type');
    const lines = [...svg.querySelectorAll('g.edge line')].map((l) => [
      origin.x + l.x1.baseVal.value, origin.y + l.y1.baseVal.value,
      origin.x + l.x2.baseVal.value, origin.y + l.y2.baseVal.value,
    ]);
    const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const crosses = (r, [ax, ay, bx, by]) => {
      let [t0, t1] = [0, 1];
      const [dx, dy] = [bx - ax, by - ay];
      for (const [p, q] of [[-dx, ax - r.left], [dx, r.right - ax], [-dy, ay - r.top], [dy, r.bottom - ay]]) {
        if (p === 0) { if (q < 0) return false; continue; }
        const t = q / p;
        if (p < 0) t0 = Math.max(t0, t); else t1 = Math.min(t1, t);
        if (t0 > t1) return false;
      }
      return true;
    };
    const found = [];
    labels.forEach((label, i) => {
      nodes.forEach((node, j) => meet(label, node) && found.push(`label ${i} over node ${j}`));
      labels.forEach((other, j) => j > i && meet(label, other) && found.push(`label ${i} over label ${j}`));
      lines.forEach((line, j) => crosses(label, line) && found.push(`label ${i} over line ${j}`));
    });
    return { found, labels: labels.length };
  });
  assert.deepEqual(overlaps.found, [], 'edge labels keep clear of lines, nodes and each other');
  assert.equal(overlaps.labels, edges.length, 'a label per edge');
  await page.screenshot({ path: join(shots, 'dependencies.png'), fullPage: true });
  console.log(`dependencies: ${edges.join(', ')}`);

  // The RED page: a row per operation, as the API counts them; the
  // gateway's checkout row links to its slowest trace and to the list of
  // its failed ones.
  await page.goto(`${base}/red`);
  const red = (await api('/api/red')).data;
  const shown = await page.$$eval('#red tr.operation', (rows) =>
    rows.map((r) => `${r.dataset.service} ${r.dataset.operation} ${r.cells[3].textContent.trim()}`),
  );
  assert.deepEqual(shown, red.map((r) => `${r.service} ${r.operation} ${r.count}`));
  const checkout = page.locator('#red tr.operation[data-service=gateway][data-operation="GET /checkout/{item}"]');
  assert.ok(await checkout.isVisible(), 'the checkout row');
  await page.screenshot({ path: join(shots, 'red.png'), fullPage: true });
  const checkoutRed = red.find((r) => r.service === 'gateway' && r.operation === 'GET /checkout/{item}');
  await Promise.all([page.waitForURL(/tags=error/), checkout.locator('a.failing').click()]);
  const failedListed = await page.$$eval('#traces tr.trace', (rows) => rows.map((r) => r.dataset.traceId));
  assert.ok(failedListed.length === checkoutRed.errors && failedListed.includes(checkoutRed.failingTraceID), `${failedListed} ${JSON.stringify(checkoutRed)}`);
  await page.goto(`${base}/red`);
  await Promise.all([page.waitForURL(/\/traces\//), checkout.locator('a.slowest').click()]);
  assert.ok(page.url().endsWith(checkoutRed.slowestTraceID), page.url());
  console.log(`red: ${shown.length} operations; the checkout's ${checkoutRed.errors} failed trace(s) and slowest ${checkoutRed.slowestTraceID} one click away`);

  assert.deepEqual(elsewhere, [], 'no request left the viewer');
  assert.deepEqual(errors, [], 'no script error');
  console.log(`screenshots in ${shots}`);
} finally {
  await browser.close();
  rmSync(userDataDir, { recursive: true, force: true });
  demo.kill('SIGINT');
  clearTimeout(deadline);
}
