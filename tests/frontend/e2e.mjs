#!/usr/bin/env node
/*
 * e2e — the frontend in a real browser against a real mevid.
 *
 *   node tests/frontend/e2e.mjs            (or: npm --prefix frontend run e2e)
 *
 * Starts mevid ($MEVID, else build-frontend/daemon/mevid, build/daemon/mevid,
 * build-daemon/daemon/mevid) with --foreground --socket <tmp> --listen
 * 127.0.0.1:<free port>, drives tests/tools/fake-launcher.mjs, and checks in
 * Debian's headless chromium (playwright-core, no browser download) that:
 *   - the page loads with zero requests leaving 127.0.0.1, and says "No sessions yet";
 *   - a process appears with the RSS /api/state reports (same number, formatted),
 *     its bars update as pages are touched, two tabs show the same thing;
 *   - a forked child appears under its parent and greys out with its exit status;
 *   - the printed URL (with the token) through a forwarded port shows live data
 *     and the token leaves the address bar (an HttpOnly, SameSite=Strict cookie
 *     takes its place); a mevid on 0.0.0.0 opened without the token says so
 *     ("mevid wants its token") instead of "No daemon";
 *   - tooltip, click-to-zoom, filter, pause, help and URL state work;
 *   - killing mevid shows OFFLINE, restarting it shows LIVE and the same totals;
 *   - a real program (python3) under mevi-run ($MEVI_RUN, else the launcher/
 *     beside mevid's build) shows the RSS /api/state reports as it touches memory;
 *   - a 200,000-range map stays responsive (frame times are printed);
 *   - the timeline: scrubbing shows what /api/state?session=S&at=T reports,
 *     ← / → step between events, replay, `l` back to live, diff A/B legend;
 *   - recordings: one downloaded from mevid opens from the file picker, one
 *     written by mevi-run --record opens by drag and drop, corrupt files show
 *     the daemon's error;
 *   - protocol version 2: the kind legend and stripe, the per-kind breakdown
 *     (adding up to /api/state's RSS), "exact" / "sampled every 50 ms" (live),
 *     swapped pages, the hover's top frame and first-touch thread, the click's
 *     stack panel, group by call site (table order, row highlight), the empty
 *     state without backtraces, and 200k annotated ranges grouped by site;
 *   - layout at 760 and 1400 px: the session header and the process rows keep
 *     their command lines and no table overflows its box (screenshots
 *     30-layout-*px.png);
 *   - endings: a launcher killed -9 shows "launcher lost" and leaves the totals,
 *     a detach shows "detached", never "exit -1";
 *   - the flame graph panel (flame_checks.mjs): backtrace_prog's call paths
 *     with the right bytes, click-to-filter, the A/B diff, the export links.
 * Screenshots go to $E2E_ARTIFACTS (default build-frontend/e2e-artifacts/).
 *
 * Exit status 0 when every check passed, 1 otherwise, 77 when a prerequisite
 * (mevid, chromium, frontend/node_modules) is missing, saying which.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { flameChecks } from './flame_checks.mjs';
import { artifactsDir, findMevid, freePort, frontendDir, importTs, launchBrowser, CHROMIUM, sleep, startLauncher, startMevid, tmpDir, waitFor } from './lib.mjs';

const SKIP = 77;
const results = [];
let failures = 0;
let skipped = 0;
const t0 = Date.now();

function log(msg) {
  process.stdout.write(`# ${msg}\n`);
}

// E2E_ONLY=REGEX runs only the checks whose names match (the others are
// reported skipped): for working on a few checks. Later checks may rely on
// state earlier ones made.
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

let current = '(before the first check)'; // named in page errors

async function check(name, fn) {
  const start = Date.now();
  current = name;
  if (only && !only.test(name)) {
    results.push(name);
    skipped++;
    process.stdout.write(`ok ${results.length} - ${name} # SKIP not in E2E_ONLY\n`);
    return;
  }
  const pagesBefore = new Set(ctx.pages());
  try {
    const note = await fn();
    results.push(name);
    if (typeof note === 'string' && note.startsWith('SKIPPED: ')) {
      skipped++;
      process.stdout.write(`ok ${results.length} - ${name} # SKIP ${note.slice(9)}\n`);
      return;
    }
    process.stdout.write(`ok ${results.length} - ${name}${note ? ` (${note})` : ''} [${Date.now() - start} ms]\n`);
  } catch (err) {
    failures++;
    results.push(name);
    process.stdout.write(`not ok ${results.length} - ${name}\n#   ${String(err?.stack ?? err).split('\n').slice(0, 4).join('\n#   ')}\n`);
    await shot(`FAILED-${results.length}`).catch(() => undefined);
    // A page the failed check opened would go on reconnecting and polling
    // through every later check: close it, so one failure stays one.
    for (const p of ctx.pages()) {
      if (pagesBefore.has(p)) continue;
      await p.screenshot({ path: join(outDir, `FAILED-${results.length}-own-page.png`) }).catch(() => undefined);
      await p.close().catch(() => undefined);
    }
  }
}

// ---- prerequisites ---------------------------------------------------------------

if (!existsSync(join(frontendDir, 'node_modules', 'playwright-core'))) {
  console.log('SKIP: frontend/node_modules missing: run npm ci in frontend/');
  process.exit(SKIP);
}
if (!existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} missing: apt-get install chromium`);
  process.exit(SKIP);
}
const MEVID = findMevid();
if (!MEVID) {
  console.log('SKIP: no mevid binary: set MEVID, or build it: cmake -S . -B build-frontend -DMEVI_FRONTEND=ON && cmake --build build-frontend --target mevid');
  process.exit(SKIP);
}
// mevi-run, for the check with a real traced program: $MEVI_RUN, else next to mevid's build.
const MEVI_RUN = [process.env.MEVI_RUN, join(dirname(dirname(MEVID)), 'launcher', 'mevi-run')].find((p) => p && existsSync(p)) ?? null;
const outDir = process.env.E2E_ARTIFACTS ?? artifactsDir;
mkdirSync(outDir, { recursive: true });
const { formatBytes } = await importTs('src/format.ts');

log(`mevid: ${MEVID}`);
log(`mevi-run: ${MEVI_RUN ?? 'not found: the real-program check will be skipped'}`);
log(`chromium: ${CHROMIUM}`);
log(`screenshots: ${outDir}`);

const dir = tmpDir();
const socket = join(dir, 'mevid.sock');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let mevid = await startMevid(MEVID, { socket, port });
{
  const index = await (await fetch(`${base}/`)).text();
  if (!index.includes('id="app"')) {
    await mevid.stop();
    console.log(`SKIP: ${MEVID} serves a placeholder page: it was built without the frontend (configure with -DMEVI_FRONTEND=ON after npm ci in frontend/)`);
    process.exit(SKIP);
  }
}
const ctx = await launchBrowser();
const cleanups = [() => ctx.close(), () => mevid.stop()];

// Every request the browser makes, from every tab.
const requests = [];
ctx.on('request', (r) => requests.push(r.url()));
const pageErrors = [];
let page = ctx.pages()[0] ?? (await ctx.newPage());
watchPage(page);

function watchPage(p) {
  p.on('pageerror', (e) => pageErrors.push(`${e.message} [during "${current}"]`));
  p.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${m.text()} [during "${current}"]`);
  });
}

async function shot(name, p = page) {
  const file = join(outDir, `${name}.png`);
  await p.screenshot({ path: file });
  return file;
}

async function apiState() {
  const r = await fetch(`${base}/api/state`);
  if (!r.ok) throw new Error(`/api/state: HTTP ${r.status}`);
  return r.json();
}

async function apiProcess(pid) {
  const s = await apiState();
  for (const sess of s.sessions) for (const p of sess.processes) if (p.pid === pid) return p;
  return null;
}

async function apiTotals() {
  const s = await apiState();
  let rss = 0;
  let vsz = 0;
  for (const sess of s.sessions) for (const p of sess.processes) if (p.alive) (rss += p.rss), (vsz += p.vsz);
  return { rss, vsz };
}

const text = (p, sel) => p.locator(sel).first().textContent({ timeout: 2000 });
const procRss = (p, pid) => text(p, `.process[data-pid="${pid}"] .mem-stats.rss .value`);
const topRss = (p) => text(p, '.top-bar .mem-stats.rss .value');
const topVsz = (p) => text(p, '.top-bar .mem-stats.virt .value');

/** A hash of a process's canvas pixels, to see the bars change. */
function canvasHash(p, pid) {
  return p.evaluate((pid) => {
    const c = document.querySelector(`.process[data-pid="${pid}"] canvas.map-canvas`);
    if (!c || !c.width || !c.height) return null;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i += 4) h = Math.imul(h ^ (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16)), 16777619);
    return `${c.width}x${c.height}:${h >>> 0}`;
  }, pid);
}

/** Waits until the page shows the same formatted RSS as /api/state for pid. */
async function waitRssMatches(p, pid, what = `pid ${pid} RSS to match /api/state`) {
  return waitFor(what, async () => {
    const api = await apiProcess(pid);
    if (!api) return false;
    const shown = await procRss(p, pid).catch(() => null);
    return shown === formatBytes(api.rss) ? { api: api.rss, shown } : false;
  });
}

const MiB = 1024 * 1024;
const A = 0x7f0000000000;
const H = 0x555555554000;
const hex = (n) => `0x${n.toString(16)}`;
let launcher;

try {
  await check('page loads offline and says there are no sessions yet', async () => {
    await page.goto(`${base}/`);
    await waitFor('the empty state', async () => (await text(page, '.empty-state h1')) === 'No sessions yet');
    await waitFor('LIVE', async () => (await text(page, '.live-indicator')) === 'LIVE');
    await page.evaluate(() => document.fonts.ready);
    await shot('01-no-sessions');
  });

  await check('a process appears with the RSS /api/state reports', async () => {
    launcher = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '5000', '--argv', 'prog --work hard', '--reconnect', '--hold', '--quiet']);
    await launcher.next((e) => e.event === 'greeting', 30000); // node + TypeScript start-up: 12 s seen on a loaded 2-core machine
    await launcher.send(
      'start 5001 5000 /usr/bin/prog --work hard',
      `map 5001 ${hex(H)} ${hex(H + 4 * MiB)} not_resident`,
      `state 5001 ${hex(H)} ${hex(H + 1 * MiB)} resident`,
      `map 5001 ${hex(A)} ${hex(A + 64 * MiB)} not_resident`,
      `state 5001 ${hex(A)} ${hex(A + 8 * MiB)} resident`,
      `map 5001 ${hex(A + 0x10000000)} ${hex(A + 0x10000000 + 2 * MiB)} untracked`,
    );
    const { api, shown } = await waitRssMatches(page, 5001);
    if (api !== 9 * MiB) throw new Error(`/api/state says ${api}, the launcher sent 9 MiB`);
    const t = await apiTotals();
    await waitFor('top-bar totals to match /api/state', async () => (await topRss(page)) === formatBytes(t.rss) && (await topVsz(page)) === formatBytes(t.vsz));
    const args = await page.locator('.process[data-pid="5001"] .arg').allTextContents();
    if (args.join(' ') !== '/usr/bin/prog --work hard') throw new Error(`cmdline chips: ${JSON.stringify(args)}`);
    await shot('02-process');
    return `RSS ${shown}, totals ${formatBytes(t.rss)} / ${formatBytes(t.vsz)}`;
  });

  await check('the bars update while the program touches memory', async () => {
    const before = await canvasHash(page, 5001);
    for (let i = 8; i < 40; i += 8) {
      await launcher.send(`state 5001 ${hex(A + i * MiB)} ${hex(A + (i + 8) * MiB)} resident`);
      await waitRssMatches(page, 5001);
    }
    const after = await canvasHash(page, 5001);
    if (!before || before === after) throw new Error(`canvas did not change (${before} -> ${after})`);
    const api = await apiProcess(5001);
    await shot('03-updated');
    return `RSS now ${formatBytes(api.rss)}`;
  });

  let page2;
  await check('two tabs show the same thing', async () => {
    page2 = await ctx.newPage();
    watchPage(page2);
    await page2.goto(`${base}/`);
    await launcher.send(`state 5001 ${hex(A + 40 * MiB)} ${hex(A + 44 * MiB)} resident`);
    await waitRssMatches(page, 5001);
    await waitRssMatches(page2, 5001);
    const a = [await topRss(page), await topVsz(page), await page.locator('.process').count()];
    const b = [await topRss(page2), await topVsz(page2), await page2.locator('.process').count()];
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`tab 1 ${JSON.stringify(a)} != tab 2 ${JSON.stringify(b)}`);
    if ((await canvasHash(page, 5001)) !== (await canvasHash(page2, 5001))) throw new Error('the two tabs drew different bars');
    await shot('04-second-tab', page2);
    await page2.close();
  });

  let fwdBase = null;
  await check('the printed URL through a forwarded port: live, and the token leaves the address bar', async () => {
    const token = readFileSync(`${socket}.token`, 'utf8').trim();
    // A port forward, as `ssh -L` makes one: another port, another Host.
    const fwd = net.createServer((c) => {
      const up = net.connect(port, '127.0.0.1');
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise((r) => fwd.listen(0, '127.0.0.1', r));
    cleanups.push(() => fwd.close());
    fwdBase = `http://localhost:${fwd.address().port}`;
    const p = await ctx.newPage();
    watchPage(p);
    await p.goto(`${fwdBase}/?token=${token}`);
    await waitFor('the token to leave the address bar', async () => !p.url().includes('token='));
    await waitFor('LIVE through the forward', async () => (await text(p, '.live-indicator')) === 'LIVE', 15000);
    await waitRssMatches(p, 5001);
    const cookie = (await ctx.cookies(fwdBase)).find((c) => c.name === `mevi_token_${port}`);
    if (!cookie || !cookie.httpOnly || cookie.sameSite !== 'Strict') throw new Error(`cookie: ${JSON.stringify(cookie)}`);
    if (await p.evaluate(() => document.cookie.includes('mevi_token'))) throw new Error('the page script can read the token cookie');
    await shot('04b-forwarded-port', p);
    await p.close();
    return p.url();
  });

  await check('a mevid open to the network asks for its token instead of saying "No daemon"', async () => {
    const dir2 = tmpDir();
    const port2 = await freePort();
    const exposed = await startMevid(MEVID, { socket: join(dir2, 'mevid.sock'), port: port2, args: ['--listen', `0.0.0.0:${port2}`] });
    cleanups.push(() => exposed.stop());
    const base2 = `http://127.0.0.1:${port2}`;
    const p = await ctx.newPage();
    watchPage(p);
    await p.goto(`${base2}/`);
    const titles = new Set();
    await waitFor('the refusal', async () => {
      if (exposed.child.exitCode !== null || exposed.child.signalCode !== null) {
        throw new Error(`the exposed mevid ended (${exposed.child.exitCode ?? exposed.child.signalCode}): ${exposed.stderr()}`);
      }
      const title = await text(p, '.empty-state h1');
      titles.add(title);
      return title === 'mevid wants its token';
    }, 15000).catch((err) => {
      throw new Error(`${err.message}; the page said ${JSON.stringify([...titles])}; mevid's log: ${exposed.stderr().slice(-400)}`);
    });
    const detail = await text(p, '.empty-state');
    if (!/token/.test(detail)) throw new Error(`the page says: ${detail}`);
    await shot('04c-token-wanted', p);
    const token = readFileSync(join(dir2, 'mevid.sock.token'), 'utf8').trim();
    await p.goto(`${base2}/?token=${token}`);
    await waitFor('LIVE with the token', async () => (await text(p, '.live-indicator')) === 'LIVE', 15000);
    if (p.url().includes('token=')) throw new Error(`token still in ${p.url()}`);
    await p.close();
    await exposed.stop();
    requests.splice(0, requests.length, ...requests.filter((u) => !u.includes(`:${port2}/`)));
    return detail.slice(0, 80);
  });

  await check('a forked child appears under its parent and greys out when it exits', async () => {
    await launcher.send('start 5002 5001 fork /usr/bin/prog --work hard', `state 5002 ${hex(A)} ${hex(A + 4 * MiB)} not_resident`, 'exec 5002 /bin/sh -c make', `map 5002 ${hex(H)} ${hex(H + 2 * MiB)} resident`);
    await waitRssMatches(page, 5002);
    const order = await page.locator('.process').evaluateAll((els) => els.map((e) => [e.dataset.pid, getComputedStyle(e).getPropertyValue('--depth').trim()]));
    const i1 = order.findIndex(([pid]) => pid === '5001');
    const i2 = order.findIndex(([pid]) => pid === '5002');
    if (!(i2 === i1 + 1 && order[i2][1] === '1')) throw new Error(`tree order ${JSON.stringify(order)}`);
    await shot('05-child');
    await launcher.send('exit 5002 137');
    await waitFor('the child to grey out', async () => page.locator('.process[data-pid="5002"].exited').count());
    const status = await text(page, '.process[data-pid="5002"] .proc-status');
    if (!status.includes('SIGKILL')) throw new Error(`status shows ${status}`);
    const api = await apiProcess(5002);
    if (api.alive) throw new Error('/api/state still says alive');
    await waitFor('totals to drop the exited child', async () => (await topRss(page)) === formatBytes((await apiTotals()).rss));
    await shot('06-child-exited');
    return status;
  });

  await check('hovering shows a tooltip; clicking zooms to pages; Esc returns', async () => {
    const canvas = page.locator('.process[data-pid="5001"] canvas.map-canvas');
    const box = await canvas.boundingBox();
    // The second group row (the 64 MiB mapping), a little into its bar.
    await page.mouse.move(box.x + 200, box.y + 4 + 34 + 20 + 17);
    await waitFor('the tooltip', async () => page.locator('.tooltip:not([hidden])').count());
    const tip = await text(page, '.tooltip');
    if (!/resident/.test(tip) || !/mapping/.test(tip)) throw new Error(`tooltip says: ${tip}`);
    await shot('07-tooltip');
    await page.mouse.click(box.x + 200, box.y + 4 + 34 + 20 + 17);
    await waitFor('zoom in the URL', async () => page.url().includes('zoom='));
    const head = await page.evaluate(() => document.querySelector('.process[data-pid="5001"] canvas.map-canvas').height);
    await shot('08-zoomed');
    await page.keyboard.press('Escape');
    await waitFor('zoom to go away', async () => !page.url().includes('zoom='));
    return `tooltip: ${tip.slice(0, 60)}…; zoomed canvas ${head}px high`;
  });

  await check('keyboard: ? help, / filter, space pause', async () => {
    await page.mouse.move(5, 5);
    await page.keyboard.press('?');
    await waitFor('help', async () => page.locator('#help:not([hidden])').count());
    await shot('09-help');
    await page.keyboard.press('Escape');
    await waitFor('help to close', async () => (await page.locator('#help:not([hidden])').count()) === 0);

    await page.keyboard.press('/');
    await page.keyboard.type('5002');
    await waitFor('filter in the URL', async () => page.url().includes('q=5002'));
    await waitFor('only the match and its ancestor', async () => {
      const pids = await page.locator('.process').evaluateAll((els) => els.map((e) => `${e.dataset.pid}${e.classList.contains('context') ? '(context)' : ''}`));
      return pids.join(',') === '5001(context),5002';
    });
    await shot('10-filter');
    await page.keyboard.press('Escape'); // clears the filter and leaves the box
    await waitFor('the filter to clear', async () => !page.url().includes('q='));

    await page.keyboard.press(' ');
    await waitFor('PAUSED', async () => page.locator('.pause-btn.paused').count());
    const frozen = await procRss(page, 5001);
    await launcher.send(`state 5001 ${hex(A + 44 * MiB)} ${hex(A + 48 * MiB)} resident`);
    await sleep(400);
    const api = await apiProcess(5001);
    if (formatBytes(api.rss) === frozen) throw new Error('the test did not change RSS');
    if ((await procRss(page, 5001)) !== frozen) throw new Error('the paused view changed');
    await shot('11-paused');
    await page.keyboard.press(' ');
    await waitRssMatches(page, 5001, 'the view to catch up after resume');
    return `paused at ${frozen}, resumed at ${formatBytes(api.rss)}`;
  });

  await check('the URL reopens the same view', async () => {
    await page.goto(`${base}/?q=prog&gaps=0&nonres=0`);
    await waitRssMatches(page, 5001);
    const v = await page.evaluate(() => [document.querySelector('#filter').value, document.querySelector('#opt-gaps').checked, document.querySelector('#opt-nonres').checked]);
    if (JSON.stringify(v) !== JSON.stringify(['prog', false, false])) throw new Error(`controls show ${JSON.stringify(v)}`);
    await page.goto(`${base}/`);
    await waitRssMatches(page, 5001);
  });

  await check('killing mevid shows OFFLINE; restarting it shows LIVE again', async () => {
    const before = await apiTotals();
    await mevid.stop('SIGKILL');
    await waitFor('OFFLINE', async () => (await text(page, '.live-indicator')) === 'OFFLINE');
    await waitFor('the offline banner', async () => page.locator('.banner.offline').count());
    await shot('12-offline');
    mevid = await startMevid(MEVID, { socket, port });
    await launcher.next((e) => e.event === 'reconnected', 15000);
    await waitFor('LIVE again', async () => (await text(page, '.live-indicator')) === 'LIVE', 15000);
    await waitRssMatches(page, 5001);
    const after = await apiTotals();
    if (after.rss !== before.rss) throw new Error(`totals changed across the restart: ${before.rss} -> ${after.rss}`);
    await waitFor('top bar totals', async () => (await topRss(page)) === formatBytes(after.rss));
    await shot('13-live-again');
    return `RSS ${formatBytes(after.rss)} before and after`;
  });

  await check('a real program under mevi-run shows the RSS /api/state reports, live', async () => {
    const run = MEVI_RUN;
    if (!run) return 'SKIPPED: no mevi-run binary (set MEVI_RUN or build the mevi-run target)';
    if (!existsSync('/usr/bin/python3')) return 'SKIPPED: /usr/bin/python3 missing';
    // Maps 64 MiB (private anonymous), touches half, waits, touches the rest,
    // waits, exits: each wait is a moment when the kernel, /api/state and the
    // page must agree. (Not bytearray: it zeroes, touching every page at once.)
    const prog = [
      'import mmap, sys',
      'm = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)',
      'for i in range(0, 32 << 20, 4096): m[i] = 1',
      "print('ready', flush=True)",
      'sys.stdin.readline()',
      'for i in range(32 << 20, 64 << 20, 4096): m[i] = 1',
      "print('ready', flush=True)",
      'sys.stdin.readline()',
    ].join('\n');
    const child = spawn(run, ['--socket', socket, '--no-spawn', '--', '/usr/bin/python3', '-c', prog], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.once('exit', (code) => r(code)));
    const ready = (n) => waitFor(`mevi-run's program to print ready #${n}${err ? ` (stderr: ${err.trim()})` : ''}`, () => out.split('ready').length > n, 20000);
    const findPid = async () => {
      const s = await apiState();
      for (const sess of s.sessions) for (const p of sess.processes) if (p.alive && p.cmdline[0] === '/usr/bin/python3' && p.cmdline[2] === prog) return p.pid;
      return null;
    };
    await ready(1);
    const pid = await waitFor('the python process in /api/state', findPid);
    await page.locator(`.process[data-pid="${pid}"]`).scrollIntoViewIfNeeded();
    const first = await waitRssMatches(page, pid);
    if (first.api < 32 * MiB) throw new Error(`/api/state RSS ${first.api} < the 32 MiB touched`);
    // Protocol version 2: mevi-run's vma annotations give a per-kind breakdown adding up to RSS.
    const kinds = await waitFor('the per-kind breakdown to add up to the RSS', async () => {
      const segs = await page.locator(`.process[data-pid="${pid}"] .kind-seg`).evaluateAll((els) => els.map((e) => [e.dataset.kind, Number(e.dataset.bytes)]));
      const api = await apiProcess(pid);
      return segs.length && segs.reduce((a, [, b]) => a + b, 0) === api.rss ? segs : false;
    });
    const before = await canvasHash(page, pid);
    await shot('14-mevi-run-half');
    child.stdin.write('\n');
    await ready(2);
    const second = await waitFor('RSS to grow by the second 32 MiB', async () => {
      const r = await waitRssMatches(page, pid);
      return r.api >= first.api + 32 * MiB ? r : false;
    });
    if ((await canvasHash(page, pid)) === before) throw new Error('the bars did not change');
    await shot('15-mevi-run-full');
    child.stdin.write('\n');
    const code = await exited;
    if (code !== 0) throw new Error(`mevi-run exited ${code}: ${err}`);
    await waitFor('the program to grey out', async () => page.locator(`.process[data-pid="${pid}"].exited`).count());
    return `pid ${pid}: ${first.shown} then ${second.shown}, same as /api/state; kinds ${kinds.map(([k, b]) => `${k} ${formatBytes(b)}`).join(', ')}`;
  });

  await check('a 200,000-range map stays responsive', async () => {
    const load = startLauncher(['--socket', socket, '--scenario', 'load', '--pid', '6000', '--ranges', '200000', '--churn', '2000', '--interval', '32', '--duration', '20000', '--quiet']);
    cleanups.push(() => load.stop());
    const loaded = await load.next((e) => e.event === 'loaded', 60000);
    await waitFor('the big process on the page', async () => page.locator('.process[data-pid="6001"]').count(), 30000);
    await page.locator('.process[data-pid="6001"]').scrollIntoViewIfNeeded();
    await sleep(1500);
    const m = await page.evaluate(async () => {
      performance.clearMeasures('mevi:frame');
      const frames = [];
      let last = performance.now();
      const end = last + 4000;
      await new Promise((resolve) => {
        const tick = (t) => {
          frames.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      const work = performance.getEntriesByName('mevi:frame').map((e) => e.duration);
      return { frames, work };
    });
    const stat = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
      return { n: s.length, mean: mean.toFixed(1), p50: (s[Math.floor(s.length * 0.5)] ?? 0).toFixed(1), p95: (s[Math.floor(s.length * 0.95)] ?? 0).toFixed(1), max: (s[s.length - 1] ?? 0).toFixed(1) };
    };
    const f = stat(m.frames);
    const w = stat(m.work);
    const fps = (m.frames.length / 4).toFixed(1);
    log(`200k ranges (${loaded.ranges} after merging), 2000 flips / 32 ms: ${fps} fps; frame interval ms mean ${f.mean} p50 ${f.p50} p95 ${f.p95} max ${f.max}; mevi work per frame ms mean ${w.mean} p95 ${w.p95} max ${w.max} (${w.n} frames drew)`);
    const t = Date.now();
    await page.evaluate(() => 1);
    const answer = Date.now() - t;
    await shot('16-200k-ranges');
    await load.stop();
    if (Number(fps) < 5) throw new Error(`only ${fps} fps`);
    if (answer > 1000) throw new Error(`the page took ${answer} ms to answer`);
    return `${fps} fps, work p95 ${w.p95} ms`;
  });

  await check('the session end is shown', async () => {
    await launcher.send('exit 5001 0', 'end 0');
    await launcher.exited;
    await waitFor('the ended badge', async () => {
      const badges = await page.locator('.session-badge.ended').allTextContents();
      return badges.some((b) => b.includes('exit 0'));
    });
    await shot('17-session-ended');
  });


  // ---- history: timeline, scrub, step, live, recordings, diff -----------------

  let histSession = null;
  const apiAt = async (session, at) => {
    const r = await fetch(`${base}/api/state?session=${session}&at=${at}`);
    if (!r.ok) throw new Error(`/api/state?session=${session}&at=${at}: HTTP ${r.status}`);
    return r.json();
  };
  const tlData = () => page.evaluate(() => ({ ...document.querySelector('.timeline').dataset, mode: document.querySelector('.time-mode')?.textContent }));
  /**
   * Waits until the timeline shows the moment it asked for; returns its data.
   * With `from`, that moment must also differ from it: right after a click the
   * timeline still shows the previous (settled) moment, so a caller that moved
   * the cursor passes where it was.
   */
  const settled = (what = 'the timeline to show the moment asked for', from = null) =>
    waitFor(what, async () => {
      const d = await tlData();
      return d.mode?.startsWith('PAST t=') && d.at !== '' && d.shownAt === d.at && d.at !== from ? d : false;
    });
  /** Every process of the answer shows its RSS, and the top bar the alive total. */
  async function viewMatches(api, session) {
    const sess = api.sessions.find((x) => x.id === session);
    if (!sess) throw new Error(`session ${session} not in the answer`);
    for (const p of sess.processes) {
      const shown = await procRss(page, p.pid).catch(() => null);
      if (shown !== formatBytes(p.rss)) return false;
    }
    return sess;
  }

  await check('timeline: scrubbing shows the RSS /api/state?session=S&at=T reports', async () => {
    const s = await apiState();
    histSession = s.sessions.filter((x) => x.launcher_pid === 5000).sort((a, b) => b.id - a.id)[0]?.id;
    if (!histSession) throw new Error('no session of launcher 5000');
    await page.goto(`${base}/?session=${histSession}`);
    await waitFor('the timeline', async () => page.locator('.timeline:not([hidden]) canvas.timeline-canvas').count());
    await waitFor('LIVE on the timeline', async () => (await tlData()).mode === 'LIVE');
    const box = await page.locator('canvas.timeline-canvas').boundingBox();
    // Drag from 10 % to 30 % of the session: every move asks for a state; the last one must win.
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
    await page.mouse.down();
    for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width * (0.1 + 0.02 * k), box.y + box.height / 2);
    await page.mouse.up();
    const d = await settled();
    const api = await apiAt(histSession, d.at);
    if (Number(d.ts) !== api.at.ts) throw new Error(`timeline says ts ${d.ts}, /api/state ${api.at.ts}`);
    const sess = await waitFor('the processes to show the RSS at T', () => viewMatches(api, histSession));
    // The top bar counts every session's live processes: the others now, this one at T.
    const totalAt = async () => {
      let alive = 0;
      for (const x of (await apiState()).sessions) if (x.id !== histSession) for (const p of x.processes) if (p.alive) alive += p.rss;
      for (const p of sess.processes) if (p.alive) alive += p.rss;
      return alive;
    };
    await waitFor('top-bar totals at T', async () => (await topRss(page)) === formatBytes(await totalAt()));
    await waitFor('at= in the URL', async () => page.url().includes(`at=${d.at}`));
    await shot('18-timeline-past');
    return `${d.mode}: ${sess.processes.map((p) => `pid ${p.pid} ${formatBytes(p.rss)}`).join(', ')}`;
  });

  await check('timeline: → and ← step to the next / previous event', async () => {
    const before = await tlData();
    const api0 = await apiAt(histSession, before.at);
    await page.keyboard.press('ArrowRight');
    const d1 = await settled('a step forward', before.at);
    if (Number(d1.at) !== api0.at.next_ts) throw new Error(`→ went to ${d1.at}, next_ts is ${api0.at.next_ts}`);
    const api1 = await apiAt(histSession, d1.at);
    await waitFor('the view at the next event', () => viewMatches(api1, histSession));
    await page.keyboard.press('ArrowLeft');
    const d2 = await settled('a step back', d1.at);
    if (Number(d2.at) !== api1.at.prev_ts) throw new Error(`← went to ${d2.at}, prev_ts is ${api1.at.prev_ts}`);
    await waitFor('the view at the previous event', async () => viewMatches(await apiAt(histSession, d2.at), histSession));
    return `${before.at} → ${d1.at} → ${d2.at}`;
  });

  await check('timeline: replay plays forward; l jumps back to live', async () => {
    const start = Number((await tlData()).at);
    await page.locator('.tl-speed').selectOption('10');
    await page.keyboard.press('p');
    await waitFor('the replay to move on', async () => Number((await tlData()).at) > start, 5000);
    await page.keyboard.press('p');
    await page.keyboard.press('l');
    await waitFor('LIVE', async () => (await tlData()).mode === 'LIVE');
    await waitFor('at= to leave the URL', async () => !page.url().includes('at='));
    for (const p of (await apiState()).sessions.find((x) => x.id === histSession).processes) await waitRssMatches(page, p.pid);
    await shot('19-timeline-live');
  });

  await check('diff: marking A and B highlights what changed between them', async () => {
    const end = Number((await tlData()).end);
    const box = await page.locator('canvas.timeline-canvas').boundingBox();
    await page.mouse.click(box.x + box.width * 0.05, box.y + box.height / 2);
    const a = Number((await settled()).at);
    await page.locator('.tl-a').click();
    await page.mouse.click(box.x + box.width * 0.9, box.y + box.height / 2);
    const b = Number((await settled('the timeline at B', String(a))).at);
    await page.locator('.tl-b').click();
    await waitFor('diff in the URL', async () => page.url().includes(`diff=${a}-${b}`));
    await waitFor('the diff legend', async () => page.locator('.diff-legend-resident').count());
    const { diffStates, diffTotals } = await importTs('src/diff.ts');
    const ranges = diffStates(await apiAt(histSession, a), await apiAt(histSession, b), histSession);
    const all = [...ranges.values()].flat();
    const t = diffTotals(all);
    const shown = await page.locator('.diff-legend-resident').textContent();
    if (shown !== `resident ${formatBytes(t.resident)}`) throw new Error(`legend says "${shown}", expected resident ${formatBytes(t.resident)}`);
    await shot('20-diff');
    await page.locator('.tl-clear').click();
    await waitFor('diff to leave the URL', async () => !page.url().includes('diff='));
    await page.keyboard.press('l');
    return `A ${a} B ${b} of ${end}: ${JSON.stringify(t)}`;
  });

  await check('a recording opens from the file picker and its session is selected', async () => {
    const file = join(dir, 'downloaded.mevi');
    const r = await fetch(`${base}/api/sessions/${histSession}/recording`);
    if (!r.ok) throw new Error(`download: HTTP ${r.status}`);
    writeFileSync(file, Buffer.from(await r.arrayBuffer()));
    const before = new Set((await apiState()).sessions.map((x) => x.id));
    await page.locator('input.file-input').setInputFiles(file);
    await waitFor('the upload to finish', async () => page.locator('.upload-status.ok').count(), 15000);
    const added = (await apiState()).sessions.filter((x) => !before.has(x.id));
    if (added.length !== 1 || !added[0].recorded) throw new Error(`new sessions: ${JSON.stringify(added.map((x) => [x.id, x.recorded]))}`);
    const id = added[0].id;
    await waitFor('the new session selected', async () => page.url().includes(`session=${id}`));
    await waitFor('its chip', async () => page.locator('.session-chip.selected').filter({ hasText: `#${id}` }).count());
    for (const p of added[0].processes) await waitRssMatches(page, p.pid);
    await shot('21-recording-opened');
    return `session #${id} (${added[0].processes.length} processes)`;
  });

  await check('a recording made by mevi-run --record opens by drag and drop', async () => {
    if (!MEVI_RUN) return 'SKIPPED: no mevi-run binary';
    const file = join(dir, 'recorded.mevi');
    const code = await new Promise((res) => spawn(MEVI_RUN, ['--record', file, '--', '/bin/true'], { stdio: 'ignore', env: { ...process.env, MEVI_SOCKET: join(dir, 'none.sock') } }).once('exit', res));
    if (code !== 0 || !existsSync(file)) throw new Error(`mevi-run --record exited ${code}`);
    const before = new Set((await apiState()).sessions.map((x) => x.id));
    const bytes = [...readFileSync(file)];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'recorded.mevi'));
      for (const type of ['dragenter', 'dragover', 'drop']) document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    const id = await waitFor('the dropped recording as a new session', async () => (await apiState()).sessions.find((x) => !before.has(x.id) && x.recorded)?.id, 15000);
    await waitFor('the new session selected', async () => page.url().includes(`session=${id}`));
    return `session #${id}`;
  });

  await check('a corrupt recording shows the daemon\'s error', async () => {
    const before = (await apiState()).sessions.length;
    await page.locator('input.file-input').setInputFiles({ name: 'corrupt.mevi', mimeType: 'application/octet-stream', buffer: Buffer.from('MEVIREC\nthis is not msgpack at all') });
    await waitFor('the error', async () => page.locator('.upload-status.error').count(), 15000);
    const msg = await text(page, '.upload-status.error');
    if (!/corrupt\.mevi was not loaded: .*(recording|batch)/.test(msg)) throw new Error(`the page says: ${msg}`);
    await page.locator('input.file-input').setInputFiles({ name: 'junk.mevi', mimeType: 'application/octet-stream', buffer: Buffer.from('hello') });
    await waitFor('the not-a-recording error', async () => /not a mevi recording/.test(await text(page, '.upload-status.error')));
    if ((await apiState()).sessions.length !== before) throw new Error('a session was added');
    await shot('22-recording-error');
    return msg;
  });

  await check('timeline: scrubbing a real program shows its past, not its present', async () => {
    // The python3 session of the mevi-run check touched 32 MiB, waited, then
    // 64 MiB: scrub into the first wait and the view must show the smaller
    // RSS that /api/state?at=T reports, not the final one.
    const sess = (await apiState()).sessions.filter((x) => x.argv[0] === '/usr/bin/python3').sort((a, b) => b.id - a.id)[0];
    if (!sess) return 'SKIPPED: no python3 session (the mevi-run check was skipped)';
    const tl = await (await fetch(`${base}/api/sessions/${sess.id}/timeline`)).json();
    const half = tl.rss.filter(([, r]) => r >= 24 * MiB && r <= 48 * MiB).map(([t]) => t);
    if (!half.length) throw new Error('the session never held between 24 and 48 MiB');
    const target = (half[0] + half[half.length - 1]) / 2;
    await page.goto(`${base}/?session=${sess.id}`);
    await waitFor('the timeline', async () => page.locator('.timeline:not([hidden]) canvas.timeline-canvas').count());
    const box = await page.locator('canvas.timeline-canvas').boundingBox();
    const x = box.x + 6 + (target / Math.max(1, tl.end_ts)) * (box.width - 12);
    await page.mouse.click(x, box.y + box.height / 2);
    const d = await settled('the python session at the clicked moment');
    const api = await apiAt(sess.id, d.at);
    const p = api.sessions[0].processes.find((q) => q.cmdline[0] === '/usr/bin/python3');
    if (!p) throw new Error('no python3 process at T');
    if (p.rss >= 48 * MiB) throw new Error(`at T=${d.at} /api/state says ${formatBytes(p.rss)}: not the half-way moment`);
    await waitFor('the view to show the RSS at T', () => viewMatches(api, sess.id));
    await page.keyboard.press('l');
    return `T=${d.at}: pid ${p.pid} ${formatBytes(p.rss)} (the live session peaked at 64 MiB)`;
  });

  // ---- protocol version 2: kinds, swap, mode, backtraces, call sites ---------

  const V2 = { H: 0x555555a00000, A: 0x7f1000000000, B: 0x7f2000000000, F: 0x7f3000000000 };
  const KIND_HEAP = '#f08c2e';
  let v2;
  let v2Session = null;
  /** The RGB of one CSS pixel of a process's canvas. */
  const canvasPixel = (p, pid, x, y) =>
    p.evaluate(
      ([pid, x, y]) => {
        const c = document.querySelector(`.process[data-pid="${pid}"] canvas.map-canvas`);
        const dpr = window.devicePixelRatio || 1;
        const d = c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
        return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
      },
      [pid, x, y],
    );
  // Row geometry of mapcanvas.ts: rows start at y=4, group rows are 34 px, gap rows 20; bars start 3 px into a row, 150+10 px in.
  const BAR_X = 160;
  const groupBarY = (i) => 4 + i * (34 + 20) + 3;

  await check('v2: memory kinds, the per-kind breakdown and the exact mode text', async () => {
    await page.goto(`${base}/`);
    v2 = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '7000', '--argv', 'prog --alloc', '--mode', 'exact', '--hold', '--quiet']);
    cleanups.push(() => v2.stop());
    await v2.next((e) => e.event === 'greeting', 30000); // node + TypeScript start-up: 12 s seen on a loaded 2-core machine
    const { H, A, B, F } = V2;
    await v2.send(
      'start 7001 7000 /usr/bin/prog --alloc',
      'thread 7001 7001 prog',
      'thread 7001 7005 worker-1',
      'stack 7001 3 mmap64+0x20@libc.so.6@- alloc_big_a+0x1c@prog@prog.c:31 main+0x10@prog@prog.c:50',
      'stack 7001 4 mmap64+0x20@libc.so.6@- alloc_small_b+0x8@prog@prog.c:44 main+0x20@prog@prog.c:52',
      `map 7001 ${hex(H)} ${hex(H + 4 * MiB)} not_resident`,
      `vma 7001 ${hex(H)} ${hex(H + 4 * MiB)} heap [heap]`,
      `state 7001 ${hex(H)} ${hex(H + 1 * MiB)} resident`,
      `map 7001 ${hex(A)} ${hex(A + 16 * MiB)} not_resident`,
      `vma 7001 ${hex(A)} ${hex(A + 16 * MiB)} anon`,
      `origin 7001 ${hex(A)} ${hex(A + 16 * MiB)} 3`,
      `state 7001 ${hex(A)} ${hex(A + 8 * MiB)} resident`,
      `touch 7001 ${hex(A)} ${hex(A + 8 * MiB)} 7005`,
      `map 7001 ${hex(B)} ${hex(B + 4 * MiB)} not_resident`,
      `vma 7001 ${hex(B)} ${hex(B + 4 * MiB)} thread_stack 7005`,
      `origin 7001 ${hex(B)} ${hex(B + 4 * MiB)} 4`,
      `state 7001 ${hex(B + 3 * MiB)} ${hex(B + 4 * MiB)} resident`,
      `map 7001 ${hex(F)} ${hex(F + 2 * MiB)} resident`,
      `vma 7001 ${hex(F)} ${hex(F + 2 * MiB)} file /usr/lib/libfoo.so`,
    );
    const { api } = await waitRssMatches(page, 7001);
    if (api !== 12 * MiB) throw new Error(`/api/state says RSS ${api}, the launcher sent 12 MiB`);
    v2Session = (await apiState()).sessions.find((x) => x.launcher_pid === 7000)?.id;
    if (!v2Session) throw new Error('no session for launcher 7000');
    await page.goto(`${base}/?session=${v2Session}`);
    await waitRssMatches(page, 7001);
    const mode = await text(page, `.session[data-session="${v2Session}"] .session-mode`);
    if (mode !== 'exact') throw new Error(`mode shows ${JSON.stringify(mode)}`);
    const legend = await page.locator('.legend-kinds .legend-kind').allTextContents();
    if (legend.join(',') !== 'anon,heap,stack,thread stack,file,shmem,special') throw new Error(`kind legend: ${JSON.stringify(legend)}`);
    if ((await page.locator('.legend-inline .swatch.swapped').count()) !== 1) throw new Error('no swapped swatch in the legend');
    const segs = await waitFor('the per-kind breakdown', async () => {
      const s = await page.locator('.process[data-pid="7001"] .kind-seg').evaluateAll((els) => els.map((e) => [e.dataset.kind, Number(e.dataset.bytes)]));
      return s.length ? s : false;
    });
    const by = Object.fromEntries(segs);
    const want = { anon: 8 * MiB, file: 2 * MiB, heap: 1 * MiB, thread_stack: 1 * MiB };
    if (Object.keys(want).some((k) => by[k] !== want[k]) || segs.length !== 4) throw new Error(`breakdown ${JSON.stringify(by)}`);
    const sum = segs.reduce((a, [, b]) => a + b, 0);
    if (sum !== api) throw new Error(`breakdown sums to ${sum}, RSS is ${api}`);
    // The kind stripe above the heap's bar is the heap colour.
    const stripe = await canvasPixel(page, 7001, BAR_X + 5, groupBarY(0) + 1);
    if (stripe !== KIND_HEAP) throw new Error(`kind stripe over the heap is ${stripe}, not ${KIND_HEAP}`);
    await shot('23-v2-kinds');
    return `mode "${mode}", breakdown ${segs.map(([k, b]) => `${k} ${formatBytes(b)}`).join(', ')} = RSS ${formatBytes(api)}`;
  });

  await check('v2: hover shows kind, the top frame of the origin and the first-touch thread', async () => {
    const canvas = page.locator('.process[data-pid="7001"] canvas.map-canvas');
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + BAR_X + 40, box.y + groupBarY(1) + 16);
    const tip = await waitFor('the tooltip with the call site', async () => {
      const t = await page.locator('.tooltip:not([hidden])').first().innerText({ timeout: 500 }).catch(() => '');
      return t.includes('mapped by') ? t : false;
    });
    for (const want of ['mapped by alloc_big_a+0x1c (prog) prog.c:31', "first touched by thread 7005 'worker-1'", 'anon']) {
      if (!tip.includes(want)) throw new Error(`tooltip lacks "${want}": ${tip}`);
    }
    await page.mouse.move(box.x + BAR_X + 600, box.y + groupBarY(2) + 16);
    const tip2 = await waitFor('the thread stack tooltip', async () => {
      const t = await page.locator('.tooltip:not([hidden])').first().innerText({ timeout: 500 }).catch(() => '');
      return t.includes('thread stack') ? t : false;
    });
    if (!tip2.includes("thread stack of thread 7005 'worker-1'")) throw new Error(`thread stack tooltip: ${tip2}`);
    await shot('24-v2-hover');
    return tip.split('\n').find((l) => l.startsWith('mapped by'));
  });

  await check('v2: a click opens the side panel with the whole stack and the first-touch thread', async () => {
    const canvas = page.locator('.process[data-pid="7001"] canvas.map-canvas');
    const box = await canvas.boundingBox();
    await page.mouse.click(box.x + BAR_X + 40, box.y + groupBarY(1) + 16);
    await waitFor('the detail panel', async () => page.locator('.detail-panel:not([hidden])').count());
    const frames = await page.locator('.detail-panel .frames tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    const want = [
      ['#0', 'mmap64+0x20', 'libc.so.6', '—'],
      ['#1', 'alloc_big_a+0x1c', 'prog', 'prog.c:31'],
      ['#2', 'main+0x10', 'prog', 'prog.c:50'],
    ];
    if (JSON.stringify(frames) !== JSON.stringify(want)) throw new Error(`frames ${JSON.stringify(frames)}`);
    const site = await text(page, '.detail-panel .frames tr.call-site .frame-func');
    if (site !== 'alloc_big_a+0x1c') throw new Error(`call-site frame marked: ${site}`);
    const touch = await text(page, '.detail-panel .detail-touch');
    if (touch !== "first touched by thread 7005 'worker-1'") throw new Error(`touch line: ${touch}`);
    const kind = await text(page, '.detail-panel .detail-kind');
    await shot('25-v2-panel');
    await page.keyboard.press('Escape');
    await waitFor('the panel to close', async () => (await page.locator('.detail-panel:not([hidden])').count()) === 0);
    if (page.url().includes('zoom=')) {
      await page.keyboard.press('Escape');
      await waitFor('zoom to go away', async () => !page.url().includes('zoom='));
    }
    return `${frames.length} frames, kind "${kind}", ${touch}`;
  });

  await check('v2: group by call site: colours by stack, a table sorted by resident bytes, a row highlights its ranges', async () => {
    const before = await canvasHash(page, 7001);
    await page.locator('#opt-bysite').check();
    await waitFor('by=site in the URL', async () => page.url().includes('by=site'));
    const rows = await waitFor('the call-site table', async () => {
      const r = await page.locator(`.session[data-session="${v2Session}"] .callsite-row`).evaluateAll((els) => els.map((e) => [Number(e.dataset.stack), Number(e.dataset.resident), e.querySelector('.site-label').textContent]));
      return r.length >= 3 ? r : false;
    });
    const order = rows.map(([id, res]) => [id, res / MiB]);
    if (JSON.stringify(order) !== JSON.stringify([[3, 8], [-1, 3], [4, 1]])) throw new Error(`call sites ${JSON.stringify(rows)}`);
    if (rows[0][2] !== 'alloc_big_a+0x1c (prog) prog.c:31') throw new Error(`top row label: ${rows[0][2]}`);
    await waitFor('the map recoloured', async () => (await canvasHash(page, 7001)) !== before);
    const coloured = await canvasPixel(page, 7001, BAR_X + 40, groupBarY(1) + 20);
    await shot('26-v2-by-site');
    await page.locator(`.session[data-session="${v2Session}"] .callsite-row[data-stack="4"]`).click();
    await waitFor('site=4 in the URL', async () => page.url().includes('site=4'));
    await waitFor('the row selected', async () => page.locator('.callsite-row.selected[data-stack="4"]').count());
    // Stack 3's resident memory is now dimmed; stack 4's keeps its colour.
    const dimmed = await waitFor('stack 3 dimmed', async () => {
      const c = await canvasPixel(page, 7001, BAR_X + 40, groupBarY(1) + 20);
      return c !== coloured ? c : false;
    });
    const lit = await canvasPixel(page, 7001, BAR_X + 600, groupBarY(2) + 20);
    if (lit === dimmed) throw new Error(`the highlighted stack is drawn like the dimmed one (${lit})`);
    await shot('27-v2-highlight');
    await page.locator(`.session[data-session="${v2Session}"] .callsite-row[data-stack="4"]`).click();
    await waitFor('the highlight cleared', async () => !page.url().includes('site='));
    return `rows ${order.map(([id, m]) => `${id < 0 ? 'unknown' : `#${id}`} ${m} MiB`).join(', ')}; stack 3 ${coloured} -> ${dimmed} while #4 is highlighted`;
  });

  await check('layout at 760 and 1400 px: the header keeps its command line, no table overflows its box', async () => {
    const notes = [];
    for (const width of [760, 1400]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${base}/?session=${v2Session}&by=site`);
      await waitFor('the call-site table', async () => page.locator(`.session[data-session="${v2Session}"] .callsite-row`).count());
      const m = await page.evaluate((sid) => {
        const sess = document.querySelector(`.session[data-session="${sid}"]`);
        const argv = sess.querySelector('.session-argv');
        const r = argv.getBoundingClientRect();
        const first = argv.querySelector('.arg');
        const tables = [...document.querySelectorAll('table')].map((t) => {
          const box = t.parentElement;
          return { over: t.scrollWidth - box.clientWidth, tw: t.getBoundingClientRect().width, bw: box.getBoundingClientRect().width };
        });
        const procArgs = sess.querySelector('.process .args');
        const pr = procArgs ? procArgs.getBoundingClientRect() : { width: 0 };
        return { argvW: r.width, argvH: r.height, argvFull: argv.scrollWidth <= argv.clientWidth + 1, firstW: first ? first.getBoundingClientRect().width : 0, tables, docOver: document.documentElement.scrollWidth - window.innerWidth, procArgsW: pr.width, procArgsFull: procArgs ? procArgs.scrollWidth <= procArgs.clientWidth + 1 : false };
      }, v2Session);
      await shot(`30-layout-${width}px`);
      // The whole command line shows, or it keeps at least 300 px (long ones are cut with an ellipsis per argument).
      if (m.argvH === 0 || m.firstW === 0 || (!m.argvFull && m.argvW < 300)) throw new Error(`${width} px: the command line is squeezed to ${m.argvW} px (${JSON.stringify(m)})`);
      // Each process row keeps its command line too (whole, or at least 150 px).
      if (!m.procArgsFull && m.procArgsW < 150) throw new Error(`${width} px: a process row's command line is squeezed to ${m.procArgsW} px`);
      const bad = m.tables.filter((t) => t.over > 1);
      if (bad.length) throw new Error(`${width} px: a table overflows its box: ${JSON.stringify(bad)}`);
      if (m.docOver > 1) throw new Error(`${width} px: the page scrolls sideways by ${m.docOver} px`);
      notes.push(`${width} px: command line ${Math.round(m.argvW)} px${m.argvFull ? ' (whole)' : ''}, process row's ${Math.round(m.procArgsW)} px${m.procArgsFull ? ' (whole)' : ''}, ${m.tables.length} tables fit`);
    }
    await page.setViewportSize({ width: 1400, height: 900 });
    return notes.join('; ');
  });

  await check('endings: a vanished launcher is "launcher lost", its processes not alive nor in the totals; a detach is "detached"', async () => {
    const gone = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '8500', '--argv', 'vanishing-prog', '--hold', '--quiet']);
    await gone.next((e) => e.event === 'greeting', 30000);
    const X = 0x7f6000000000;
    await gone.send('start 8501 8500 vanishing-prog', `map 8501 ${hex(X)} ${hex(X + 8 * MiB)} resident`);
    const id = await waitFor('the session', async () => (await apiState()).sessions.find((x) => x.launcher_pid === 8500)?.id);
    await page.goto(`${base}/?session=${id}`);
    await waitRssMatches(page, 8501);
    gone.child.kill('SIGKILL'); // hangs up without a session end, as mevi-run killed -9
    await gone.exited;
    const badge = `.session[data-session="${id}"] .session-badge`;
    await waitFor('"launcher lost"', async () => (await text(page, badge)) === 'ended · launcher lost');
    await waitFor('the process greyed out, "launcher lost"', async () => (await text(page, '.process[data-pid="8501"] .proc-status').catch(() => null)) === 'launcher lost' && page.locator('.process[data-pid="8501"].exited').count());
    const api = (await apiState()).sessions.find((x) => x.id === id);
    if (api.end?.how !== 'launcher_lost' || api.processes.some((p) => p.alive)) throw new Error(`/api/state: ${JSON.stringify(api.end)} ${JSON.stringify(api.processes.map((p) => [p.alive, p.end]))}`);
    await waitFor('the totals without it', async () => (await topRss(page)) === formatBytes((await apiTotals()).rss));
    await shot('31-launcher-lost');

    const det = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '8600', '--argv', 'attached-prog', '--mode', 'sampled', '--sample-ms', '50', '--hold', '--quiet']);
    cleanups.push(() => det.stop());
    await det.next((e) => e.event === 'greeting', 30000);
    await det.send('start 8601 8600 attached-prog', `map 8601 ${hex(X)} ${hex(X + 4 * MiB)} resident`);
    const id2 = await waitFor('the attached session', async () => (await apiState()).sessions.find((x) => x.launcher_pid === 8600)?.id);
    await page.goto(`${base}/?session=${id2}`);
    await waitRssMatches(page, 8601);
    await det.send('end -1');
    await waitFor('"detached"', async () => (await text(page, `.session[data-session="${id2}"] .session-badge`)) === 'ended · detached');
    await waitFor('the process not counted', async () => (await topRss(page)) === formatBytes((await apiTotals()).rss));
    const help = await page.evaluate(() => document.body.innerText.includes('exit -1'));
    if (help) throw new Error('the page says "exit -1"');
    await shot('32-detached');
    return 'launcher lost, detached';
  });

  await check('v2: sampled mode: "sampled every 50 ms" updates live, swapped pages, honest empty call-site table', async () => {
    const s2 = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '8000', '--argv', 'sampled-prog', '--mode', 'sampled', '--sample-ms', '50', '--hold', '--quiet']);
    cleanups.push(() => s2.stop());
    await s2.next((e) => e.event === 'greeting', 30000); // node + TypeScript start-up: 12 s seen on a loaded 2-core machine
    const X = 0x7f5000000000;
    await s2.send('start 8001 8000 sampled-prog', `map 8001 ${hex(X)} ${hex(X + 4 * MiB)} resident`, `state 8001 ${hex(X)} ${hex(X + 1 * MiB)} swapped`);
    const id = await waitFor('the sampled session', async () => (await apiState()).sessions.find((x) => x.launcher_pid === 8000)?.id);
    await page.goto(`${base}/?session=${id}&by=site`);
    const { api } = await waitRssMatches(page, 8001);
    if (api !== 3 * MiB) throw new Error(`/api/state RSS ${api}: swapped pages must not count`);
    const sel = `.session[data-session="${id}"] .session-mode`;
    await waitFor('"sampled every 50 ms"', async () => (await text(page, sel)) === 'sampled every 50 ms');
    await s2.send('sampling 200');
    await waitFor('"sampled every 200 ms"', async () => (await text(page, sel)) === 'sampled every 200 ms');
    const swap = await text(page, '.process[data-pid="8001"] .mem-stats.swap .value');
    if (swap !== '1 MiB') throw new Error(`swap shows ${swap}`);
    const empty = await text(page, `.session[data-session="${id}"] .callsites-empty`);
    if (empty !== 'no backtraces (run with --backtraces=mmap)') throw new Error(`empty call-site table says ${empty}`);
    // The swapped quarter of the bar is drawn in the swapped colour, above resident.
    await shot('28-v2-sampled');
    await s2.send('end 0');
    return `${await text(page, sel)}, swap ${swap}, "${empty}"`;
  });

  await check('v2: 200,000 ranges with annotations, grouped by call site, stay responsive', async () => {
    const load = startLauncher(['--socket', socket, '--scenario', 'load', '--pid', '9000', '--ranges', '200000', '--annotate', '--churn', '2000', '--interval', '32', '--duration', '15000', '--quiet']);
    cleanups.push(() => load.stop());
    await load.next((e) => e.event === 'loaded', 60000);
    const id = await waitFor('the load session', async () => (await apiState()).sessions.find((x) => x.launcher_pid === 9000)?.id, 30000);
    await page.goto(`${base}/?session=${id}&by=site`);
    await waitFor('the big process on the page', async () => page.locator('.process[data-pid="9001"]').count(), 30000);
    await waitFor('its call sites', async () => (await page.locator(`.session[data-session="${id}"] .callsite-row`).count()) >= 16, 30000);
    await page.locator('.process[data-pid="9001"]').scrollIntoViewIfNeeded();
    await sleep(1500);
    const frames = await page.evaluate(async () => {
      const out = [];
      let last = performance.now();
      const end = last + 4000;
      await new Promise((resolve) => {
        const tick = (t) => {
          out.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      return out.length;
    });
    const fps = (frames / 4).toFixed(1);
    log(`200k annotated ranges, group by call site, 2000 flips / 32 ms: ${fps} fps`);
    await shot('29-v2-200k-by-site');
    await load.stop();
    if (Number(fps) < 5) throw new Error(`only ${fps} fps`);
    return `${fps} fps`;
  });

  await v2?.send('exit 7001 0', 'end 0').catch(() => undefined);

  // ---- the flame graph panel and the exports (tests/frontend/flame_checks.mjs) ----
  await flameChecks({ check, page, base, socket, MEVID, MEVI_RUN, apiState, canvasHash, shot });
  await check('endings in mevid\'s words: "killed by SIGKILL (137)", and a recording cut short is "recording cut at byte N" (not "launcher lost")', async () => {
    const l = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '8700', '--argv', 'cut-prog', '--hold', '--quiet']);
    cleanups.push(() => l.stop());
    await l.next((e) => e.event === 'greeting', 30000);
    const X = 0x7f7000000000;
    // Over 4096 events, so that the recording mevid writes back has two
    // batches (daemon/loader.h LOADER_BATCH_EVENTS) and a cut in the second
    // leaves the first.
    await l.send('start 8701 8700 cut-prog', `map 8701 ${hex(X)} ${hex(X + 8 * MiB)} not_resident`);
    const flips = [];
    for (let i = 0; i < 5000; i++) flips.push(`state 8701 ${hex(X + (i % 2048) * 4096)} ${hex(X + ((i % 2048) + 1) * 4096)} ${i < 2048 ? 'resident' : i % 2 ? 'resident' : 'not_resident'}`);
    await l.send(...flips);
    const id = await waitFor('the session', async () => (await apiState()).sessions.find((x) => x.launcher_pid === 8700)?.id);
    await l.send('end 137');
    await l.exited;
    const killed = await waitFor('its end in /api/state', async () => (await apiState()).sessions.find((x) => x.id === id)?.end);
    if (killed.how !== 'killed' || killed.signal !== 9) throw new Error(`/api/state end: ${JSON.stringify(killed)}`);
    await page.goto(`${base}/?session=${id}`);
    await waitFor('"killed by SIGKILL (137)"', async () => (await text(page, `.session[data-session="${id}"] .session-badge`)) === 'ended · killed by SIGKILL (137)');
    // Its recording, cut inside its last batch (the session_end), as a writer killed mid-write leaves it.
    const r = await fetch(`${base}/api/sessions/${id}/recording`);
    if (!r.ok) throw new Error(`download: HTTP ${r.status}`);
    const whole = Buffer.from(await r.arrayBuffer());
    const before = new Set((await apiState()).sessions.map((x) => x.id));
    await page.locator('input.file-input').setInputFiles({ name: 'cut.mevi', mimeType: 'application/octet-stream', buffer: whole.subarray(0, whole.length - 3) });
    const cut = await waitFor('the cut recording loaded as a session', async () => (await apiState()).sessions.find((x) => !before.has(x.id)), 15000);
    if (cut.end?.how !== 'recording_cut' || !(cut.end.offset > 0) || cut.end.offset >= whole.length) throw new Error(`/api/state end of the cut recording: ${JSON.stringify(cut.end)} (file ${whole.length - 3} bytes)`);
    const want = `ended · recording cut at byte ${cut.end.offset}`;
    await waitFor(`the page to say "${want}"`, async () => (await text(page, `.session[data-session="${cut.id}"] .session-badge`).catch(() => null)) === want, 15000);
    const chip = await text(page, '.session-chip.selected');
    if (!chip.includes(`recording cut at byte ${cut.end.offset}`)) throw new Error(`the session chip says ${chip}`);
    await waitFor('its process "recording cut"', async () => (await text(page, `.session[data-session="${cut.id}"] .process[data-pid="8701"] .proc-status`).catch(() => null)) === 'recording cut');
    if (await page.evaluate((id) => document.querySelector(`.session[data-session="${id}"]`)?.innerText.includes('launcher lost'), cut.id)) throw new Error('the cut recording is worded "launcher lost"');
    await shot('35-recording-cut');
    return `killed: ${JSON.stringify(killed)}; cut: ${JSON.stringify(cut.end)} -> "${want}"`;
  });

  await check('pid namespaces: a process run under unshare --pid shows its host pid ("pid 3 (host 41213)"), as /api/state says', async () => {
    if (!MEVI_RUN) return 'SKIPPED: no mevi-run binary';
    if (!existsSync('/usr/bin/unshare') || !existsSync('/usr/bin/python3')) return 'SKIPPED: needs /usr/bin/unshare and /usr/bin/python3';
    const probe = await new Promise((res) => spawn('/usr/bin/unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).once('exit', res));
    if (probe !== 0) return `SKIPPED: unshare --pid refused (exit ${probe}; needs root)`;
    const prog = 'import os, sys\nprint(os.getpid(), flush=True)\nsys.stdin.readline()\n';
    const child = spawn('/usr/bin/unshare', ['--pid', '--fork', '--mount-proc', MEVI_RUN, '--socket', socket, '--no-spawn', '--', '/usr/bin/python3', '-c', prog], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.once('exit', (code) => r(code)));
    const ns = Number(await waitFor(`the program's pid in its namespace${err ? ` (stderr: ${err.trim()})` : ''}`, () => /^\d+\n/.exec(out)?.[0], 20000));
    const [s, p] = await waitFor('the session with host pids in /api/state', async () => {
      for (const x of (await apiState()).sessions) for (const q of x.processes) if (x.alive && q.pid === ns && q.host_pid && x.launcher_host_pid && x.launcher_host_pid !== x.launcher_pid) return [x, q];
      return null;
    }, 20000);
    if (p.host_pid === ns) throw new Error(`host pid ${p.host_pid} equals the namespace pid`);
    await page.goto(`${base}/?session=${s.id}`);
    const want = `${ns} (host ${p.host_pid})`;
    await waitFor(`the process's pid to read "${want}"`, async () => (await text(page, `.session[data-session="${s.id}"] .process[data-pid="${ns}"] .pid`).catch(() => null)) === want, 15000);
    // mevi-run became the program: the launcher pid's host pid is that process's.
    const launcherHost = s.processes.find((q) => q.pid === s.launcher_pid)?.host_pid ?? s.launcher_host_pid;
    const meta = await waitFor('the launcher pid with its host pid', async () => {
      const m = await text(page, `.session[data-session="${s.id}"] .session-meta`);
      return m.includes(`launcher pid ${s.launcher_pid} (host ${launcherHost})`) ? m : false;
    });
    await shot('36-pid-namespace');
    child.stdin.end();
    await exited;
    return `pid ${want}; ${meta.split(' · ')[0]}`;
  });

  await check('heat (mevi-run --heat): the overlay shows hot memory, the cold filter finds the idle buffer', async () => {
    if (!MEVI_RUN) return 'SKIPPED: no mevi-run binary';
    if (!existsSync('/usr/bin/python3')) return 'SKIPPED: /usr/bin/python3 missing';
    // A hot buffer written every 100 ms and a cold one written once, 4 MiB each.
    const prog = [
      'import mmap, select, sys, time',
      'f = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS',
      'hot = mmap.mmap(-1, 4 << 20, flags=f)',
      'cold = mmap.mmap(-1, 4 << 20, flags=f)',
      'time.sleep(0.5)',
      'for i in range(0, 4 << 20, 4096): cold[i] = 1',
      'import ctypes',
      "print('ready', ctypes.addressof(ctypes.c_char.from_buffer(cold)), flush=True)",
      'while not select.select([sys.stdin], [], [], 0.1)[0]:',
      '    for i in range(0, 4 << 20, 4096): hot[i] = (hot[i] + 1) & 255',
    ].join('\n');
    const child = spawn(MEVI_RUN, ['--socket', socket, '--no-spawn', '--sample', '--heat=100', '--', '/usr/bin/python3', '-c', prog], { stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.once('exit', (code) => r(code)));
    await waitFor(`the heat program to print ready${err ? ` (stderr: ${err.trim()})` : ''}`, () => out.includes('ready'), 20000);
    if (/unavailable/.test(err)) {
      child.stdin.end();
      await exited;
      return `SKIPPED: ${err.trim()}`;
    }
    const [sid, pid] = await waitFor('the heat program with written ranges in /api/state', async () => {
      const s = await apiState();
      for (const sess of s.sessions) for (const p of sess.processes) if (p.alive && p.cmdline[2] === prog && p.written && p.written.length) return [sess.id, p.pid];
      return null;
    });
    await page.goto(`${base}/?session=${sid}`);
    await page.locator(`.process[data-pid="${pid}"]`).scrollIntoViewIfNeeded();
    const before = await canvasHash(page, pid);
    await page.locator('#opt-heat').check();
    const hotPixels = await waitFor('bright (hot) pixels on the map', async () => {
      const n = await page.evaluate((pid) => {
        const c = document.querySelector(`.process[data-pid="${pid}"] canvas.map-canvas`);
        if (!c) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let hot = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 255 && d[i + 1] === 92 && d[i + 2] === 36) hot++;
        return hot;
      }, pid);
      return n > 0 ? n : false;
    });
    if ((await canvasHash(page, pid)) === before) throw new Error('the overlay did not change the map');
    await shot('30-heat-overlay');
    await page.locator('#opt-cold').fill('1');
    const cold = await waitFor('the cold total to count the idle 4 MiB buffer', async () => {
      const v = await page.locator(`.process[data-pid="${pid}"] .heat-stat`).getAttribute('data-cold', { timeout: 2000 }).catch(() => null);
      return v !== null && Number(v) >= 4 * MiB ? Number(v) : false;
    }, 20000);
    const label = await text(page, `.process[data-pid="${pid}"] .heat-stat`);
    await shot('31-heat-cold-filter');
    await page.locator('#opt-cold').fill('');
    // The zoomed page grid has the overlay too: the cold buffer, page by page,
    // faded now, and hot when scrubbed back to when it was written.
    const coldAt = Number(/ready (\d+)/.exec(out)[1]);
    const zoom = `${sid}:${pid}:${coldAt.toString(16)}-${(coldAt + 4 * MiB).toString(16)}`;
    const gridPixels = () =>
      page.evaluate((pid) => {
        const c = document.querySelector(`.process[data-pid="${pid}"] canvas.map-canvas`);
        if (!c) return null;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const n = { hot: 0, resident: 0, other: 0 };
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] === 255 && d[i + 1] === 92 && d[i + 2] === 36) n.hot++;
          else if (d[i] === 0xcb && d[i + 1] === 0x1f && d[i + 2] === 0x5f) n.resident++;
          else n.other++;
        }
        return n;
      }, pid);
    const writtenAt = (await apiState()).sessions.find((x) => x.id === sid).processes.find((q) => q.pid === pid).written.find(([ws, we]) => ws <= coldAt && we > coldAt)?.[2];
    if (writtenAt === undefined) throw new Error(`/api/state has no write time for the cold buffer at ${hex(coldAt)}`);
    await page.goto(`${base}/?session=${sid}&zoom=${zoom}`);
    await page.locator('#opt-heat').check();
    const liveGrid = await waitFor('the zoomed grid with the cold buffer faded (heat colours, none hot)', async () => {
      const n = await gridPixels();
      return n && n.hot === 0 && n.resident === 0 && n.other > 0 ? n : false;
    }, 15000);
    await shot('37-heat-zoom-live');
    await page.goto(`${base}/?session=${sid}&zoom=${zoom}&at=${writtenAt + 100e6}`);
    await page.locator('#opt-heat').check();
    const pastGrid = await waitFor('the zoomed grid scrubbed to the write: the cold buffer hot', async () => {
      const n = await gridPixels();
      return n && n.hot > 1000 && n.resident === 0 ? n : false;
    }, 20000);
    await shot('38-heat-zoom-scrubbed');
    await page.locator('#opt-heat').uncheck();
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`mevi-run exited ${code}: ${err}`);
    return `pid ${pid}: ${hotPixels} hot pixels; "${label}" (${formatBytes(cold)} resident not written for 1 s); zoomed cold buffer: live ${JSON.stringify(liveGrid)}, at its write ${JSON.stringify(pastGrid)}`;
  });

  await check('no request left 127.0.0.1 and the page logged no errors', async () => {
    const fwdWs = fwdBase?.replace('http:', 'ws:');
    const foreign = requests.filter(
      (u) => !u.startsWith(`${base}/`) && !u.startsWith(`ws://127.0.0.1:${port}/`) && !(fwdBase && (u.startsWith(`${fwdBase}/`) || u.startsWith(`${fwdWs}/`))) && !u.startsWith('data:') && !u.startsWith('blob:'),
    );
    if (foreign.length) throw new Error(`external requests: ${foreign.join(', ')}`);
    // The refused uploads above answer 400: Chromium logs every failed resource load.
    // The checks kill and restart mevids on purpose: a request in flight then is
    // refused, or reset when the daemon dies mid-answer. Script errors always count.
    const errors = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e) && !/ERR_CONNECTION_(REFUSED|RESET)/.test(e) && !/status of 400/.test(e) && !/status of 401/.test(e));
    if (errors.length) throw new Error(`page errors: ${errors.join(' | ')}`);
    return `${requests.length} requests, all to ${base}`;
  });
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
  launcher?.stop();
}

const passed = results.length - failures - skipped;
log(`screenshots in ${outDir}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`e2e: ${passed} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failures ? 1 : 0);
