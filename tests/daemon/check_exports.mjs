#!/usr/bin/env node
/*
 * check_exports — the export golden files (tests/daemon/golden/, written by
 * test_export.c) read back by their real consumers, and /metrics of a live
 * mevid with 100 processes:
 *
 *   - folded: imported by speedscope (npm, its own release bundle, in Debian's
 *     headless chromium through playwright-core): its "sandwich" table must
 *     give every function the bytes the golden file says;
 *   - trace-event: checked against the Trace Event Format's documented shape
 *     (the JSON Object Format: traceEvents; ph C / i / M with their required
 *     fields; ts in µs; counters' args numeric; instant scope g/p/t) and
 *     against the fixed recording's known values;
 *   - /metrics: parsed by parse-prometheus-text-format (npm); the golden file,
 *     then a live mevid ($MEVID) fed 100 processes by tests/tools/fake-launcher.mjs:
 *     900 process series, nothing omitted; the scrape time is printed.
 *
 * Exit 0 when every check passed, 1 otherwise, 77 when frontend/node_modules
 * is missing. Parts needing chromium or $MEVID are skipped with a line when
 * those are absent.
 */
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const golden = join(here, 'golden');
const frontend = join(repo, 'frontend');
if (!existsSync(join(frontend, 'node_modules', 'parse-prometheus-text-format'))) {
  console.log('SKIP: frontend/node_modules missing: run npm ci in frontend/');
  process.exit(77);
}
const require = createRequire(join(frontend, 'package.json'));
const parseProm = require('parse-prometheus-text-format');

let passed = 0;
let failed = 0;
let skipped = 0;
async function check(name, fn) {
  try {
    const note = await fn();
    if (typeof note === 'string' && note.startsWith('SKIP')) {
      skipped++;
      console.log(`skip ${name}: ${note}`);
      return;
    }
    passed++;
    console.log(`ok   ${name}${note ? ` (${note})` : ''}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
const assert = (c, msg) => {
  if (!c) throw new Error(msg);
};
const MiB = 1024 * 1024;

// ---- folded -> speedscope --------------------------------------------------
await check('folded: speedscope imports it with the right bytes per function', async () => {
  const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromiumPath)) return 'SKIP: no /usr/bin/chromium';
  const rel = join(frontend, 'node_modules', 'speedscope', 'dist', 'release');
  if (!existsSync(rel)) return 'SKIP: speedscope not installed (npm ci in frontend/)';
  const folded = readFileSync(join(golden, 'export.folded'));
  // What flamegraph.pl's parser takes from each line: "stack count".
  const want = new Map();
  for (const line of folded.toString().trim().split('\n')) {
    const m = /^(.*) (\d+)$/.exec(line);
    assert(m, `not a folded line: ${line}`);
    for (const f of new Set(m[1].split(';'))) want.set(f, (want.get(f) ?? 0) + Number(m[2]));
  }
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
  const srv = createServer((q, r) => {
    const u = q.url.split('?')[0];
    if (u === '/profile.folded') {
      r.writeHead(200, { 'content-type': 'text/plain' });
      return r.end(folded);
    }
    const f = join(rel, u === '/' ? 'index.html' : u.slice(1));
    if (!f.startsWith(rel) || !existsSync(f)) {
      r.writeHead(404);
      return r.end();
    }
    r.writeHead(200, { 'content-type': types[extname(f)] ?? 'application/octet-stream' });
    r.end(readFileSync(f));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { chromium } = require('playwright-core');
  const b = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
  try {
    const p = await b.newPage();
    const logs = [];
    p.on('console', (m) => logs.push(m.text()));
    const port = srv.address().port;
    await p.goto(`http://127.0.0.1:${port}/#profileURL=${encodeURIComponent(`http://127.0.0.1:${port}/profile.folded`)}&title=mevi`);
    const deadline = Date.now() + 15000;
    while (!logs.some((l) => l.includes('Importing as collapsed stack format')) && Date.now() < deadline) await p.waitForTimeout(100);
    assert(logs.some((l) => l.includes('Importing as collapsed stack format')), `speedscope did not import it as collapsed stacks: ${logs.join(' | ')}`);
    await p.keyboard.press('3'); // the sandwich view: Total, Self, Symbol Name
    let got = new Map();
    while (Date.now() < deadline) {
      const text = await p.locator('body').innerText();
      const re = /([\d,]+) \([^)]*\)\s+[\d,]+ \([^)]*\)\s+(.+)/g;
      got = new Map();
      for (const m of text.matchAll(re)) got.set(m[2].trim(), Number(m[1].replace(/,/g, '')));
      if (got.size >= want.size) break;
      await p.waitForTimeout(100);
    }
    for (const [f, bytes] of want) assert(got.get(f) === bytes, `speedscope shows ${f} = ${got.get(f)}, the folded file says ${bytes}`);
    return `${want.size} functions, e.g. alloc_a ${got.get('alloc_a') / MiB} MiB`;
  } finally {
    await b.close();
    srv.close();
  }
});

// ---- trace-event: the documented shape ---------------------------------------
/** Checks one Trace Event Format JSON Object; returns counts per ph. */
function checkTraceEvent(doc) {
  assert(doc && typeof doc === 'object' && Array.isArray(doc.traceEvents), 'no traceEvents array');
  if (doc.displayTimeUnit !== undefined) assert(['ms', 'ns'].includes(doc.displayTimeUnit), `displayTimeUnit ${doc.displayTimeUnit}`);
  const counts = {};
  const lastTs = new Map();
  for (const [i, e] of doc.traceEvents.entries()) {
    const where = `event ${i} ${JSON.stringify(e).slice(0, 120)}`;
    assert(typeof e.name === 'string' && e.name.length > 0, `${where}: name`);
    assert(typeof e.ph === 'string', `${where}: ph`);
    assert(Number.isInteger(e.pid) && Number.isInteger(e.tid), `${where}: pid/tid integers`);
    counts[e.ph] = (counts[e.ph] ?? 0) + 1;
    if (e.ph === 'M') {
      assert(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index', 'process_labels'].includes(e.name), `${where}: metadata name`);
      assert(e.args && typeof e.args.name === 'string', `${where}: metadata args.name`);
      continue;
    }
    assert(typeof e.ts === 'number' && Number.isFinite(e.ts) && e.ts >= 0, `${where}: ts (µs)`);
    if (e.ph === 'C') {
      assert(e.args && typeof e.args === 'object' && Object.keys(e.args).length > 0, `${where}: counter args`);
      for (const [k, v] of Object.entries(e.args)) assert(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${where}: counter series ${k} must be a number`);
      const key = `${e.pid}:${e.name}`;
      assert(e.ts >= (lastTs.get(key) ?? 0), `${where}: a counter track goes back in time`);
      lastTs.set(key, e.ts);
    } else if (e.ph === 'i' || e.ph === 'I') {
      assert(e.s === undefined || ['g', 'p', 't'].includes(e.s), `${where}: instant scope`);
    } else {
      throw new Error(`${where}: unexpected phase ${e.ph}`);
    }
  }
  return counts;
}

await check('trace-event: the Trace Event Format shape, and the fixed recording\'s values', async () => {
  const doc = JSON.parse(readFileSync(join(golden, 'export.trace.json'), 'utf8'));
  const counts = checkTraceEvent(doc);
  const ev = doc.traceEvents;
  const rss = (pid) => ev.filter((e) => e.ph === 'C' && e.name === 'RSS' && e.pid === pid).map((e) => e.args.resident);
  assert(Math.max(...rss(100)) === 5 * MiB, `pid 100 peaks at ${Math.max(...rss(100))}`);
  assert(rss(101).at(-1) === 0, 'pid 101 drops to 0 at its exit');
  const sess = ev.filter((e) => e.name === 'session RSS').map((e) => e.args.resident);
  assert(Math.max(...sess) === 10 * MiB, `session peak ${Math.max(...sess)}`);
  const kinds = ev.filter((e) => e.name === 'RSS by kind' && e.pid === 100).at(-1).args;
  assert(kinds.anon === 2 * MiB && kinds.heap === 0, `last kinds ${JSON.stringify(kinds)}`);
  const mmaps = ev.filter((e) => e.name === 'mmap' && e.pid === 100).map((e) => e.args.call_site);
  assert(mmaps.length === 2 && mmaps[0].startsWith('alloc_a+0x1c (prog) prog.c:31') && mmaps[1].startsWith('alloc_b'), `mmap call sites ${mmaps}`);
  const un = ev.find((e) => e.name === 'munmap');
  assert(un && un.args.call_site.startsWith('alloc_b') && un.args.len === 2 * MiB, `munmap ${JSON.stringify(un)}`);
  const pid101 = JSON.parse(readFileSync(join(golden, 'export.pid101.trace.json'), 'utf8'));
  checkTraceEvent(pid101);
  assert(pid101.traceEvents.every((e) => e.pid === 101), 'pid=101 has events of other processes');
  return JSON.stringify(counts);
});

// ---- /metrics: the golden file ---------------------------------------------
function metricsIndex(text) {
  const fams = parseProm(text);
  const by = new Map(fams.map((f) => [f.name, f]));
  return by;
}

await check('/metrics: parse-prometheus-text-format reads the golden file', async () => {
  const by = metricsIndex(readFileSync(join(golden, 'export.metrics.txt'), 'utf8'));
  const res = by.get('mevi_process_resident_bytes');
  assert(res && res.type === 'GAUGE' && res.metrics.length === 7, `resident family ${JSON.stringify(res)?.slice(0, 200)}`);
  const anon = res.metrics.find((m) => m.labels.kind === 'anon');
  assert(anon.labels.pid === '100' && anon.labels.comm === 'prog' && anon.labels.session === '1' && Number(anon.value) === 2 * MiB, JSON.stringify(anon));
  assert(by.get('mevi_events_ingested_total').type === 'COUNTER', 'events counter');
  assert(Number(by.get('mevi_metrics_processes_omitted').metrics[0].value) === 0, 'omitted');
  return `${by.size} families`;
});

// ---- /metrics of a live mevid with 100 processes ------------------------------
await check('/metrics: 100 live processes, parsed, scrape time', async () => {
  const mevid = process.env.MEVID;
  if (!mevid || !existsSync(mevid)) return 'SKIP: set MEVID to a mevid binary';
  const lib = await import(join(repo, 'tests', 'frontend', 'lib.mjs'));
  const dir = lib.tmpDir('mevi-metrics-');
  const socket = join(dir, 'mevid.sock');
  const port = await lib.freePort();
  const d = await lib.startMevid(mevid, { socket, port });
  const load = lib.startLauncher(['--socket', socket, '--scenario', 'load', '--pid', '5000', '--procs', '100', '--ranges', '100000', '--annotate', '--churn', '200', '--interval', '32', '--duration', '0', '--quiet']);
  try {
    await load.next((e) => e.event === 'loaded', 60000);
    const url = `http://127.0.0.1:${port}/metrics`;
    const times = [];
    let text = '';
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const r = await fetch(url);
      text = await r.text();
      times.push(performance.now() - t0);
      assert(r.ok && r.headers.get('content-type').startsWith('text/plain; version=0.0.4'), `HTTP ${r.status} ${r.headers.get('content-type')}`);
    }
    const by = metricsIndex(text);
    const pids = new Set(by.get('mevi_process_resident_bytes').metrics.map((m) => m.labels.pid));
    assert(pids.size === 100, `${pids.size} processes in /metrics`);
    assert(by.get('mevi_process_resident_bytes').metrics.length === 700, 'seven kinds per process');
    assert(Number(by.get('mevi_metrics_processes_omitted').metrics[0].value) === 0, 'omitted');
    assert(Number(by.get('mevi_launchers_connected').metrics[0].value) === 1, 'one launcher');
    times.sort((a, b) => a - b);
    return `100 processes, 100,000 ranges: ${text.length} bytes, scrape median ${times[10].toFixed(2)} ms, max ${times[19].toFixed(2)} ms`;
  } finally {
    await load.stop();
    await d.stop();
  }
});

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
