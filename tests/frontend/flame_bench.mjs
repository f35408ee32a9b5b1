#!/usr/bin/env node
/*
 * flame_bench — the flame graph panel (frontend/src/ui/flameview.ts) at 20,000
 * call stacks, in headless Chromium against a real mevid fed by
 * tests/tools/fake-launcher.mjs. Prints numbers; never fails on timing (exit 1
 * only when it cannot run, 77 when a prerequisite is missing).
 *
 *   node tests/frontend/flame_bench.mjs [--stacks N] [--seconds S]
 *
 * One process maps N 64 KiB ranges, each by its own stack (main -> mid_i%200
 * -> sub_i%2000 -> leaf_i -> __mmap in libc), and touches half of each. Then:
 *   build    the time to build the tree and lay it out (flameview's
 *            lastBuildMs: callSites() walk + buildFlame + toChart), over
 *            several rebuilds (resident <-> mapped);
 *   scroll   frames per second of the page while the chart is zoomed and
 *            panned with the mouse wheel and drags for S seconds
 *            (requestAnimationFrame callbacks; the median of three windows).
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
const mevid = await startMevid(MEVID, { socket, port });
const ctx = await launchBrowser();
const launcher = startLauncher(['--socket', socket, '--scenario', 'stdin', '--pid', '6000', '--argv', 'flame-bench', '--hold', '--quiet']);
const hex = (n) => `0x${n.toString(16)}`;
try {
  await launcher.next((e) => e.event === 'greeting');
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
  const sid = await waitFor('the session', async () => (await (await fetch(`${base}/api/state`)).json()).sessions.find((s) => s.launcher_pid === 6000)?.id, 30000);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${base}/?session=${sid}`);
  await waitFor('the process on the page', async () => page.locator('.process[data-pid="6001"]').count(), 30000);
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
  const windows = [];
  for (let w = 0; w < 3; w++) {
    const counting = page.evaluate(async (ms) => {
      let n = 0;
      const end = performance.now() + ms;
      await new Promise((resolve) => {
        const tick = (t) => {
          n++;
          if (t < end) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      return (n / ms) * 1000;
    }, seconds * 1000);
    // Zoom in and out with the wheel, pan with drags, while counting.
    const stop = Date.now() + seconds * 1000;
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
    windows.push(await counting);
  }
  const sorted = [...windows].sort((a, b) => a - b);
  console.log(`flame graph: ${N} stacks, ${frames} frames`);
  console.log(`build (walk + tree + layout): ${builds.map((b) => b.toFixed(1)).join(', ')} ms`);
  console.log(`scroll (wheel zoom + drag pan): ${sorted[1].toFixed(1)} fps median (${windows.map((x) => x.toFixed(1)).join(', ')})`);
  const load = (await import('node:os')).loadavg();
  console.log(`load average ${load.map((x) => x.toFixed(2)).join(' ')} (a shared 2-core machine: other jobs move these numbers)`);
} finally {
  await launcher.stop();
  await ctx.close();
  await mevid.stop();
}
