/*
 * flame_checks — the flame graph panel (frontend/src/ui/flameview.ts) in the
 * browser e2e (tests/frontend/e2e.mjs calls flameChecks()):
 *
 *   - tests/launcher/backtrace_prog (paths) under mevi-run --backtraces=mmap:
 *     its known call paths appear as frames with the bytes the daemon's own
 *     folded export gives (resident), and alloc_big_a = 4 MiB, alloc_big_b =
 *     8 MiB with "mapped bytes";
 *   - a click on a frame filters the address-space view (the process canvas
 *     changes, the filter note appears) and "show all" brings it back;
 *   - A/B diff: marking the session's start and end shows alloc_big_b grown;
 *   - the export links answer with the right content types.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from './lib.mjs';

const MiB = 1024 * 1024;

/** The backtrace test program next to mevid's build. */
export function findBacktraceProg(mevid) {
  const p = join(dirname(dirname(mevid)), 'tests', 'launcher', 'backtrace_prog_fp_g');
  return existsSync(p) ? p : null;
}

/** Frame rows of the panel: [[name, bytes, delta], ...]. */
function frameRows(page) {
  return page.locator('.flame .flame-row').evaluateAll((els) => els.map((e) => [e.dataset.frame, Number(e.dataset.bytes), Number(e.dataset.delta)]));
}

export async function flameChecks({ check, page, base, socket, MEVID, MEVI_RUN, apiState, canvasHash, shot }) {
  const prog = findBacktraceProg(MEVID);
  let sid = null;
  let pid = null;

  await check('flame graph: known call paths of backtrace_prog with the bytes the folded export gives', async () => {
    if (!MEVI_RUN || !prog) return 'SKIPPED: needs mevi-run and tests/launcher/backtrace_prog_fp_g';
    const before = new Set((await apiState()).sessions.map((s) => s.id));
    const code = await new Promise((res) => spawn(MEVI_RUN, ['--socket', socket, '--no-spawn', '--backtraces=mmap', '--', prog, 'paths'], { stdio: 'ignore' }).once('exit', res));
    if (code !== 0) throw new Error(`backtrace_prog exited ${code}`);
    const s = await waitFor('the session ended with its stacks symbolised', async () => {
      const x = (await apiState()).sessions.find((y) => !before.has(y.id) && !y.alive && y.argv.some((a) => a === 'paths'));
      if (!x) return false;
      const p = x.processes.find((q) => q.cmdline.includes('paths'));
      const names = JSON.stringify(p?.stacks ?? {});
      return names.includes('alloc_big_a') && names.includes('alloc_big_b') ? x : false;
    }, 20000);
    sid = s.id;
    pid = s.processes.find((q) => q.cmdline.includes('paths')).pid;
    await page.goto(`${base}/?session=${sid}`);
    await page.locator('.flame-toggle').click();
    const folded = await (await fetch(`${base}/api/sessions/${sid}/export?format=folded`)).text();
    // Bytes per leaf-most function of interest, from the daemon's folded export.
    const want = {};
    for (const line of folded.trim().split('\n')) {
      const m = /^(.*) (\d+)$/.exec(line);
      for (const f of ['alloc_big_a', 'alloc_big_b', 'grow_heap_c', 'remap_d']) if (m && m[1].split(';').includes(f)) want[f] = (want[f] ?? 0) + Number(m[2]);
    }
    if (Object.keys(want).length !== 4) throw new Error(`folded export lacks the known paths:\n${folded}`);
    const rows = await waitFor('frames of the known paths', async () => {
      const r = await frameRows(page);
      return ['alloc_big_a', 'alloc_big_b'].every((f) => r.some(([n]) => n === f)) ? r : false;
    });
    // Rows list frames with more than one child or a leaf: compare through the panel's tree instead.
    const shown = await page.evaluate(() => document.querySelector('.flame').dataset.total);
    const apiRss = (await apiState()).sessions.find((x) => x.id === sid).processes.reduce((a, p) => a + p.rss, 0);
    if (Number(shown) !== apiRss) throw new Error(`flame graph total ${shown}, /api/state rss ${apiRss}`);
    for (const [f, bytes] of Object.entries(want)) {
      const row = rows.find(([n]) => n === f);
      if (row && row[1] !== bytes) throw new Error(`${f}: ${row[1]} bytes shown, folded export says ${bytes}`);
    }
    await page.locator('.flame-value').selectOption('mapped');
    const mapped = await waitFor('mapped bytes', async () => {
      const r = await frameRows(page);
      const a = r.find(([n]) => n === 'alloc_big_a');
      const b = r.find(([n]) => n === 'alloc_big_b');
      return a && b && a[1] === 4 * MiB && b[1] === 8 * MiB ? r : false;
    });
    await shot('40-flame-mapped');
    await page.locator('.flame-value').selectOption('resident');
    return `resident ${JSON.stringify(want)}; mapped alloc_big_a ${mapped.find(([n]) => n === 'alloc_big_a')[1] / MiB} MiB, alloc_big_b ${mapped.find(([n]) => n === 'alloc_big_b')[1] / MiB} MiB`;
  });

  await check('flame graph: a click on a frame filters the map to its ranges, and back', async () => {
    if (sid === null) return 'SKIPPED: no backtrace_prog session';
    await page.locator('#opt-bysite').uncheck().catch(() => undefined);
    await page.locator(`.process[data-pid="${pid}"]`).scrollIntoViewIfNeeded();
    const before = await waitFor('the process drawn', async () => canvasHash(page, pid));
    await page.locator('.flame-row[data-frame="alloc_big_b"]').first().click();
    await waitFor('the filter note', async () => (await page.locator('.flame-filter').isVisible()) && (await page.locator('.flame-filter').textContent()).includes('alloc_big_b'));
    const filtered = await waitFor('the map redrawn with the filter', async () => {
      const h = await canvasHash(page, pid);
      return h && h !== before ? h : false;
    });
    await shot('41-flame-filter');
    await page.locator('.flame-clear').click();
    await waitFor('the filter cleared', async () => !(await page.locator('.flame-filter').isVisible()));
    await waitFor('the map back as it was', async () => (await canvasHash(page, pid)) === before);
    return `canvas ${before} -> ${filtered} -> back`;
  });

  await check('flame graph: A/B diff shows what grew between the start and the end', async () => {
    if (sid === null) return 'SKIPPED: no backtrace_prog session';
    const tl = await (await fetch(`${base}/api/sessions/${sid}/timeline`)).json();
    const end = Number(tl.end_ts ?? 0); // (tl.end is how the session ended)
    if (!end) throw new Error(`timeline: ${JSON.stringify(tl).slice(0, 200)}`);
    await page.goto(`${base}/?session=${sid}&diff=0-${end}`);
    await page.locator('.flame-toggle').click();
    const rows = await waitFor('diff rows', async () => {
      const r = await frameRows(page);
      const b = r.find(([n]) => n === 'alloc_big_b');
      return b && b[2] > 0 ? r : false;
    }, 15000);
    const grew = await page.locator('.flame-row[data-frame="alloc_big_b"] .flame-row-delta.grew').count();
    if (!grew) throw new Error('alloc_big_b is not marked as grown');
    await shot('42-flame-diff');
    // The export links answer with the right content types.
    const types = {};
    for (const a of await page.locator('.flame-export').evaluateAll((els) => els.map((e) => e.getAttribute('href')))) {
      const r = await fetch(`${base}/${a}`);
      types[a.replace(/.*format=([a-z-]+).*/, '$1')] = `${r.status} ${r.headers.get('content-type')}`;
    }
    if (!types['trace-event']?.startsWith('200 application/json') || !types.folded?.startsWith('200 text/plain')) throw new Error(`exports: ${JSON.stringify(types)}`);
    return `alloc_big_b +${rows.find(([n]) => n === 'alloc_big_b')[2]} bytes; exports ${JSON.stringify(types)}`;
  });
}
