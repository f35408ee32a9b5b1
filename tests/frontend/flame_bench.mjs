#!/usr/bin/env node
/*
 * flame_bench — the flame graph panel (frontend/src/ui/flameview.ts) at 20,000
 * call stacks, in headless Chromium against a real mevid fed by
 * tests/tools/fake-launcher.mjs. Prints numbers; never fails on timing (exit 1
 * only when it cannot run, 77 when a prerequisite is missing).
 *
 *   node tests/frontend/flame_bench.mjs [--stacks N] [--seconds S] [--web-root DIR]
 *                                       [--profile FILE.cpuprofile]
 *
 * One process maps N 64 KiB ranges, each by its own stack (main -> mid_i%200
 * -> sub_i%2000 -> leaf_i -> __mmap in libc), and touches half of each. Then:
 *   build    the time to build the tree and lay it out (flameview's
 *            lastBuildMs), over several rebuilds (resident <-> mapped);
 *   live     the page's frames while the memory changes under the open chart
 *            (the launcher flips the resident half of 200 ranges every 50 ms,
 *            so the tree's bytes change all the time) and the chart is zoomed
 *            and panned with the mouse wheel and drags;
 *   scroll   the same wheel and drags with the memory still.
 * For live and scroll: median and p95 frame time (the gaps between
 * requestAnimationFrame callbacks) and frames per second, each over three
 * S-second windows (the median window is printed, and all three fps). Each
 * window starts from the whole graph (wheeled out as far as the chart
 * goes): a window can end between zooming in and zooming out, and a
 * zoomed-in chart draws fewer frames, so without that the later windows
 * (the still ones) would start deeper in than the first.
 * --web-root serves a frontend build (frontend/dist) instead of the one
 * compiled into mevid; --profile writes a CDP CPU profile of the first live
 * window (open it in Chromium's DevTools or speedscope).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { findMevid, freePort, frontendDir, launchBrowser, CHROMIUM, startLauncher, startMevid, tmpDir, waitFor } from './lib.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg('--stacks', 20000);
const seconds = arg('--seconds', 3);
const strArg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : null;
};
const webRoot = strArg('--web-root');
const profileOut = strArg('--profile');

if (!existsSync(join(frontendDir, 'node_modules', 'playwright-core')) || !existsSync(CHROMIUM)) {
  console.log('SKIP: needs frontend/node_modules (npm ci) and /usr/bin/chromium');
  process.exit(77);
}
const MEVID = findMevid();
if (!MEVID) {
  console.log('SKIP: no mevid binary (set MEVID)');
  process.exit(77);
}

const dir = tmpDir('mevi-flame-');
const socket = join(dir, 'mevid.sock');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const mevid = await startMevid(MEVID, { socket, port, args: webRoot ? ['--web-root', webRoot] : [] });
const ctx = await launchBrowser();
const launcher = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '6000', '--argv', 'flame-bench', '--hold', '--quiet']);
const hex = (n) => `0x${n.toString(16)}`;
const stage = (what) => process.stderr.write(`flame_bench: ${what}\n`);
try {
  await launcher.next((e) => e.event === 'greeting', 60000);
  const A = 0x7f0000000000;
  const R = 64 * 1024;
  await launcher.send('start 6001 6000 /usr/bin/flame-bench', `map 6001 ${hex(A)} ${hex(A + N * R)} not_resident`);
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    const cmds = [];
    for (let k = i; k < Math.min(N, i + 500); k++) {
      const s = A + k * R;
      cmds.push(
        `stack 6001 ${k + 1} __mmap+0x13@libc.so.6@-@0x7f00000a1000 leaf_${k}+0x1c@bench@bench.c:${k}@0x${(0x400000 + k * 64).toString(16)} sub_${k % 2000}+0x8@bench@-@0x500000 mid_${k % 200}+0x8@bench@-@0x600000 main+0x10@bench@-@0x700000`,
        `origin 6001 ${hex(s)} ${hex(s + R)} ${k + 1}`,
        `state 6001 ${hex(s)} ${hex(s + R / 2)} resident`,
      );
    }
    await launcher.send(...cmds, 'flush');
  }
  console.log(`fed ${N} stacks, ${N} origins, ${N} ranges in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  stage('waiting for the session');
  // A fresh mevid: the session is #1 (its timeline is small; /api/state is 10 MB here).
  const sid = await waitFor('the session', async () => ((await fetch(`${base}/api/sessions/1/timeline`, { signal: AbortSignal.timeout(20000) })).ok ? 1 : false), 60000);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  stage(`opening the page (session ${sid})`);
  await page.goto(`${base}/?session=${sid}`);
  await waitFor('the process on the page', async () => page.locator('.process[data-pid="6001"]').count(), 30000);
  stage('opening the flame graph');
  await page.locator('.flame-toggle').click();
  const frames = await waitFor('the flame graph', async () => {
    const f = await page.evaluate(() => document.querySelector('.flame')?.dataset.frames);
    return Number(f) > N ? Number(f) : false;
  }, 60000);
  const builds = [Number(await page.evaluate(() => document.querySelector('.flame').dataset.buildMs))];
  for (const v of ['mapped', 'resident', 'mapped', 'resident']) {
    const before = await page.evaluate(() => document.querySelector('.flame').dataset.total);
    await page.locator('.flame-value').selectOption(v);
    await waitFor('the rebuild', async () => (await page.evaluate(() => document.querySelector('.flame').dataset.total)) !== before, 30000);
    builds.push(Number(await page.evaluate(() => document.querySelector('.flame').dataset.buildMs)));
  }
  const box = await page.locator('canvas.flame-canvas').boundingBox();
  // Frame gaps of the page for ms: what requestAnimationFrame sees.
  const countFrames = (ms) =>
    page.evaluate(async (ms) => {
      const gaps = [];
      let last = null;
      const end = performance.now() + ms;
      await new Promise((resolve) => {
        const tick = (t) => {
          if (last !== null) gaps.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      return gaps;
    }, ms);
  // Zoom in and out with the wheel, pan with drags, until stop.
  const scroll = async (stop) => {
    let k = 0;
    await page.mouse.move(box.x + box.width / 2, box.y + 60);
    while (Date.now() < stop) {
      if (k % 20 < 10) await page.mouse.wheel(0, k % 40 < 20 ? -120 : 120);
      else {
        await page.mouse.down();
        await page.mouse.move(box.x + box.width / 2 + (k % 2 ? 80 : -80), box.y + 60, { steps: 4 });
        await page.mouse.up();
      }
      k++;
    }
  };
  // The memory moving: every 50 ms the resident half of 200 ranges is
  // flipped (resident <-> not resident), so the bytes of 200 stacks change.
  let churning = false;
  let flips = 0;
  const churn = async () => {
    let r = 0;
    while (churning) {
      const cmds = [];
      for (let j = 0; j < 200; j++) {
        const k = (r * 7919 + j * 104729) % N;
        const s = A + k * R;
        cmds.push(`state 6001 ${hex(s)} ${hex(s + R / 2)} ${r % 2 ? 'resident' : 'not_resident'}`);
      }
      r++;
      flips += 200;
      await launcher.send(...cmds, 'flush');
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  const stats = (gaps) => {
    const g = [...gaps].sort((a, b) => a - b);
    const q = (p) => g[Math.min(g.length - 1, Math.floor(p * g.length))] ?? NaN;
    const sum = gaps.reduce((a, b) => a + b, 0);
    return { median: q(0.5), p95: q(0.95), fps: sum > 0 ? (1000 * gaps.length) / sum : 0 };
  };
  // The whole graph: wheel out until flame-chart-js stops at the whole
  // width, then let the renders settle.
  const wholeView = async () => {
    await page.mouse.move(box.x + box.width / 2, box.y + 60);
    for (let i = 0; i < 40; i++) await page.mouse.wheel(0, 240);
    await new Promise((res) => setTimeout(res, 500));
  };
  const measure = async (live) => {
    const windows = [];
    for (let w = 0; w < 3; w++) {
      await wholeView();
      let cdp = null;
      if (live && w === 0 && profileOut) {
        cdp = await page.context().newCDPSession(page);
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
        await cdp.send('Profiler.start');
      }
      const counting = countFrames(seconds * 1000);
      await scroll(Date.now() + seconds * 1000);
      windows.push(stats(await counting));
      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        (await import('node:fs')).writeFileSync(profileOut, JSON.stringify(profile));
        await cdp.detach();
      }
    }
    const byFps = [...windows].sort((a, b) => a.fps - b.fps);
    return { mid: byFps[1], windows };
  };
  const line = (what, m) =>
    `${what}: frame time median ${m.mid.median.toFixed(1)} ms, p95 ${m.mid.p95.toFixed(1)} ms, ${m.mid.fps.toFixed(1)} fps (windows: ${m.windows.map((x) => x.fps.toFixed(1)).join(', ')} fps)`;
  stage('measuring, live');
  churning = true;
  const churned = churn();
  const built0 = Number(await page.evaluate(() => document.querySelector('.flame').dataset.builds ?? 0));
  const live = await measure(true);
  const built1 = Number(await page.evaluate(() => document.querySelector('.flame').dataset.builds ?? 0));
  churning = false;
  await churned;
  await new Promise((res) => setTimeout(res, 1500));
  stage('measuring, memory still');
  const still = await measure(false);
  console.log(`flame graph: ${N} stacks, ${frames} frames`);
  console.log(`build (walk + tree + layout): ${builds.map((b) => b.toFixed(1)).join(', ')} ms`);
  console.log(line(`live, ${N} stacks (200 ranges flipped every 50 ms, ${flips} flips; wheel zoom + drag pan)`, live));
  if (built1 > built0) console.log(`live: ${built1 - built0} tree updates in ${3 * seconds} s`);
  console.log(line('scroll, memory still (wheel zoom + drag pan)', still));
  if (profileOut) console.log(`CPU profile of the first live window: ${profileOut}`);
  const load = (await import('node:os')).loadavg();
  console.log(`load average ${load.map((x) => x.toFixed(2)).join(' ')} (a shared 2-core machine: other jobs move these numbers)`);
} finally {
  launcher.child.kill('SIGKILL'); // --hold would keep it (and this bench) waiting
  await launcher.exited;
  await ctx.close();
  await mevid.stop();
}
