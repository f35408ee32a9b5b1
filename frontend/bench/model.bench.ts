/*
 * Model benchmarks (not tests): the costs that bound how fast the tab can
 * follow a 200,000-range process. Run with `npm run bench` (vitest bench).
 */
import { bench, describe } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { decodeServerMessage, encodeWire, type MeviEvent } from '../src/protocol';
import { layoutMap, rasterize, rasterizeTags } from '../src/layout';
import { Store, vmaValue } from '../src/store';
import { TagMap } from '../src/tagmap';
import { callSites, kindBreakdown } from '../src/annotate';

const P = 4096;
const N = 200_000;
const BASE = 0x7f0000000000;

function striped(n = N): number[] {
  const flat: number[] = [];
  for (let i = 0; i < n; i++) flat.push(BASE + i * P, BASE + (i + 1) * P, i % 2);
  return flat;
}

let seed = 1;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

const flat = striped();
const big = MemMap.fromFlat(flat);

describe('memmap at 200k ranges', () => {
  bench('fromFlat (snapshot load)', () => {
    MemMap.fromFlat(flat);
  });
  bench('1000 single-page state flips', () => {
    for (let i = 0; i < 1000; i++) {
      const a = BASE + Math.floor(rnd() * N) * P;
      big.update(a, a + P, rnd() < 0.5 ? RESIDENT : NOT_RESIDENT);
    }
  });
  bench('1000 set + remove of 4-page ranges', () => {
    for (let i = 0; i < 1000; i++) {
      const a = BASE + Math.floor(rnd() * N) * P;
      big.set(a, a + 4 * P, RESIDENT);
      big.remove(a + P, a + 2 * P);
    }
  });
  bench('clone (fork)', () => {
    big.clone();
  });
});

describe('view work at 200k ranges', () => {
  const m = MemMap.fromFlat(flat);
  bench('layoutMap (groups + extents)', () => {
    m.version++; // defeat nothing: layoutMap itself is uncached
    layoutMap(m);
  });
  bench('rasterize one 1 GiB group into 2400 columns', () => {
    rasterize(m, BASE, 2 ** 30, 2400);
  });
});

describe('annotations at 200k ranges (protocol version 2)', () => {
  const m = MemMap.fromFlat(flat);
  // One vma per 64 pages, origins from 16 stacks in blocks of 1000 pages,
  // touches alternating between two threads every page (the worst case).
  const vmas = new TagMap();
  const origins = new TagMap();
  const tf: number[] = [];
  for (let i = 0; i < N; i += 64) vmas.set(BASE + i * P, BASE + Math.min(N, i + 64) * P, vmaValue(i % 7, `v${i % 5}`));
  for (let i = 0; i < N; i += 1000) origins.set(BASE + i * P, BASE + Math.min(N, i + 1000) * P, (i / 1000) % 16);
  for (let i = 0; i < N; i++) tf.push(BASE + i * P, BASE + (i + 1) * P, 100 + (i % 2));
  const touches = TagMap.fromFlat(tf);
  bench('kindBreakdown (per-kind RSS)', () => {
    kindBreakdown(m, vmas);
  });
  bench('callSites (call-site table)', () => {
    callSites([{ pid: 1, alive: true, map: m, origins }]);
  });
  bench('rasterizeTags: origins of a 1 GiB group into 2400 columns', () => {
    rasterizeTags(origins, BASE, 2 ** 30, 2400);
  });
  bench('1000 single-page touch events in a 200k-range touch map', () => {
    for (let i = 0; i < 1000; i++) {
      const a = BASE + Math.floor(rnd() * N) * P;
      touches.set(a, a + P, 100 + (i % 3));
    }
  });
});

describe('wire', () => {
  const snapshot = encodeWire([0, 2, 0n, [[1, ['load'], 1, true, null, 0, 0n, [[2, 1, ['w'], true, null, flat, [], [], [], [], []]], [], 0, []]]]);
  bench(`decode + validate a 200k-range snapshot (${(snapshot.length / 2 ** 20).toFixed(1)} MiB)`, () => {
    decodeServerMessage(snapshot);
  });
  const events: unknown[] = [];
  for (let i = 0; i < 2000; i++) {
    const a = BASE + Math.floor(rnd() * N) * P;
    events.push([8, 2, i, a, a + P, i % 2]);
  }
  const delta = encodeWire([1, 0n, [[1, events]]]);
  const store = new Store();
  store.applySnapshot({ kind: 'snapshot', version: 2, now: 0n, sessions: [{ id: 1, argv: [], launcher_pid: 1, alive: true, exit_status: null, mode: 0, started_at: 0n, processes: [{ pid: 2, ppid: 1, cmdline: [], alive: true, exit_status: null, ranges: flat, rss_history: [], vmas: [], origins: [], touches: [], threads: [], written: [] }], rss_history: [], sample_ms: 0, stacks: [] }] });
  bench('decode + apply a delta of 2000 state events', () => {
    const msg = decodeServerMessage(delta);
    if (msg.kind === 'delta') for (const b of msg.batches) store.applyBatch(b.sessionId, b.events as MeviEvent[]);
  });
});
