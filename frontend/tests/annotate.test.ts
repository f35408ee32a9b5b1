import { describe, expect, it } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT, SWAPPED, UNTRACKED } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { callSiteFrame, callSites, formatFrame, formatMode, kindBreakdown, overlay, stackColor } from '../src/annotate';
import { annotationLines, describeHit, describeVma, type AnnotationContext } from '../src/describe';
import { vmaValue } from '../src/store';
import { layoutMap } from '../src/layout';
import type { Frame } from '../src/protocol';
import { rng } from './shared';

const P = 4096;

describe('overlay', () => {
  it('splits map ranges where the annotation changes, -1 where there is none', () => {
    const m = MemMap.fromFlat([0, 8 * P, RESIDENT, 10 * P, 12 * P, NOT_RESIDENT]);
    const t = new TagMap();
    t.set(2 * P, 4 * P, 1);
    t.set(4 * P, 11 * P, 2);
    const out: number[][] = [];
    overlay(m, t, 0, Infinity, (s, e, st, v) => out.push([s / P, e / P, st, v]));
    expect(out).toEqual([
      [0, 2, RESIDENT, -1],
      [2, 4, RESIDENT, 1],
      [4, 8, RESIDENT, 2],
      [10, 11, NOT_RESIDENT, 2],
      [11, 12, NOT_RESIDENT, -1],
    ]);
  });
  it('agrees with a lookup per page on random maps', () => {
    const r = rng(7);
    const m = new MemMap();
    const t = new TagMap();
    for (let i = 0; i < 400; i++) {
      const a = Math.floor(r() * 2000);
      const b = a + 1 + Math.floor(r() * 20);
      m.set(a * P, b * P, Math.floor(r() * 4));
      const c = Math.floor(r() * 2000);
      if (r() < 0.7) t.set(c * P, (c + 1 + Math.floor(r() * 30)) * P, Math.floor(r() * 5));
      else t.remove(c * P, (c + 5) * P);
    }
    const pages = new Map<number, [number, number]>();
    overlay(m, t, 0, Infinity, (s, e, st, v) => {
      for (let p = s; p < e; p += P) {
        expect(pages.has(p)).toBe(false);
        pages.set(p, [st, v]);
      }
    });
    m.forEach((s, e, st) => {
      for (let p = s; p < e; p += P) expect(pages.get(p)).toEqual([st, t.get(p) ?? -1]);
    });
    expect(pages.size * P).toBe(m.vsz);
  });
});

describe('kindBreakdown', () => {
  it('adds up to RSS; unannotated resident memory counts as anon; swapped does not count', () => {
    const m = MemMap.fromFlat([0, 4 * P, RESIDENT, 4 * P, 8 * P, NOT_RESIDENT, 8 * P, 10 * P, RESIDENT, 10 * P, 11 * P, SWAPPED, 20 * P, 30 * P, RESIDENT]);
    const v = new TagMap();
    v.set(0, 2 * P, vmaValue(1, '[heap]'));
    v.set(2 * P, 9 * P, vmaValue(4, '/lib/a.so'));
    v.set(20 * P, 25 * P, vmaValue(3, '77'));
    v.set(25 * P, 30 * P, vmaValue(2, '[stack]'));
    const b = kindBreakdown(m, v);
    expect(b).toEqual([1 * P, 2 * P, 5 * P, 5 * P, 3 * P, 0, 0]);
    expect(b.reduce((x, y) => x + y, 0)).toBe(m.rss);
  });
  it('sums to RSS on random maps', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const m = new MemMap();
      const v = new TagMap();
      for (let i = 0; i < 500; i++) {
        const a = Math.floor(r() * 5000);
        m.set(a * P, (a + 1 + Math.floor(r() * 9)) * P, [NOT_RESIDENT, RESIDENT, UNTRACKED, SWAPPED][Math.floor(r() * 4)]!);
        const c = Math.floor(r() * 5000);
        v.set(c * P, (c + 1 + Math.floor(r() * 40)) * P, vmaValue(Math.floor(r() * 7), `n${i % 3}`));
      }
      expect(kindBreakdown(m, v).reduce((x, y) => x + y, 0)).toBe(m.rss);
    }
  });
});

describe('callSites', () => {
  const proc = (pid: number, flat: number[], origins: [number, number, number][], alive = true) => {
    const o = new TagMap();
    for (const [s, e, id] of origins) o.set(s, e, id);
    return { pid, alive, map: MemMap.fromFlat(flat), origins: o };
  };
  it('sums resident and mapped bytes per stack over live processes, sorted by resident bytes', () => {
    const a = proc(
      10,
      [0, 8 * P, RESIDENT, 8 * P, 16 * P, NOT_RESIDENT, 100 * P, 101 * P, RESIDENT],
      [
        [0, 4 * P, 1],
        [4 * P, 16 * P, 2],
      ],
    );
    const b = proc(11, [0, 2 * P, RESIDENT, 50 * P, 60 * P, RESIDENT], [[50 * P, 60 * P, 1]]);
    const dead = proc(12, [0, 1000 * P, RESIDENT], [[0, 1000 * P, 3]], false);
    const rows = callSites([a, b, dead]);
    expect(rows.map((r) => [r.stackId, r.resident / P, r.mapped / P, r.ranges, r.pids])).toEqual([
      [1, 14, 14, 2, [10, 11]],
      [2, 4, 12, 1, [10]],
      [-1, 3, 3, 2, [10, 11]],
    ]);
  });
  it('breaks ties by mapped bytes, then stack id', () => {
    const a = proc(1, [0, 4 * P, NOT_RESIDENT, 4 * P, 8 * P, NOT_RESIDENT + 0], [
      [0, 2 * P, 9],
      [2 * P, 4 * P, 4],
      [4 * P, 8 * P, 5],
    ]);
    expect(callSites([a]).map((r) => r.stackId)).toEqual([5, 4, 9]);
  });
});

describe('frames and modes', () => {
  const frames: Frame[] = [
    { pc: 0x7f0000001000, func: 'mmap64+0x1c', module: '/usr/lib/x86_64-linux-gnu/libc.so.6', source: null },
    { pc: 0x7f0000002000, func: 'malloc+0x40', module: 'libc.so.6', source: null },
    { pc: 0x555555555000, func: 'alloc_big_a+0x1c', module: '/tmp/prog', source: 'prog.c:31' },
    { pc: 0x555555556000, func: 'main+0x10', module: '/tmp/prog', source: 'prog.c:50' },
  ];
  it('the call-site frame is the first one outside libc and the loader', () => {
    expect(formatFrame(callSiteFrame(frames)!)).toBe('alloc_big_a+0x1c (prog) prog.c:31');
    expect(callSiteFrame(frames.slice(0, 2))).toBe(frames[0]);
    expect(callSiteFrame([])).toBeNull();
    expect(formatFrame({ pc: 0x1000, func: '', module: '', source: null })).toBe('0x1000 (?)');
  });
  it('words the mode as the page shows it', () => {
    expect(formatMode(0, 0)).toBe('exact');
    expect(formatMode(1, 50)).toBe('sampled every 50 ms');
    expect(formatMode(1, 2000)).toBe('sampled every 2 s');
    expect(formatMode(1, 0)).toBe('sampled');
    expect(formatMode(7, 0)).toBe('mode 7');
  });
  it('gives each stack a stable colour, grey for no origin', () => {
    expect(stackColor(3)).toBe(stackColor(3));
    expect(stackColor(3)).not.toBe(stackColor(4));
    expect(stackColor(-1)).toBe('#6b6b6b');
    expect(stackColor(3)).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe('tooltip and panel text for annotations', () => {
  const m = MemMap.fromFlat([0x10000, 0x10000 + 16 * P, RESIDENT]);
  const vmas = new TagMap();
  vmas.set(0x10000, 0x10000 + 8 * P, vmaValue(1, '[heap]'));
  vmas.set(0x10000 + 8 * P, 0x10000 + 12 * P, vmaValue(3, '4321'));
  vmas.set(0x10000 + 12 * P, 0x10000 + 14 * P, vmaValue(0, 'jit-cache'));
  const origins = new TagMap();
  origins.set(0x10000, 0x10000 + 4 * P, 7);
  origins.set(0x10000 + 4 * P, 0x10000 + 6 * P, 8);
  const touches = new TagMap();
  touches.set(0x10000, 0x10000 + P, 4321);
  const stacks = new Map<number, Frame[]>([[7, [{ pc: 1, func: 'mmap+0x5', module: 'libc.so.6', source: null }, { pc: 2, func: 'alloc_big_a+0x1c', module: 'prog', source: 'prog.c:31' }]]]);
  const ctx: AnnotationContext = { vmas, origins, touches, stacks, mode: 0, threadName: (tid) => (tid === 4321 ? 'worker-1' : null) };

  it('shows kind and name, the top frame of the origin and the first-touch thread', () => {
    expect(annotationLines(0x10000, ctx)).toEqual(['heap [heap]', 'mapped by alloc_big_a+0x1c (prog) prog.c:31', "first touched by thread 4321 'worker-1'"]);
    expect(annotationLines(0x10000 + 4 * P, ctx)).toEqual(['heap [heap]', 'mapped by stack #8 (its frames were not received)']);
    expect(annotationLines(0x10000 + 8 * P, ctx)[0]).toBe("thread stack of thread 4321 'worker-1'");
    expect(annotationLines(0x10000 + 12 * P, ctx)[0]).toBe('anon [anon:jit-cache]');
    expect(annotationLines(0x10000 + 15 * P, ctx)).toEqual(['anon']);
    expect(describeVma(vmaValue(4, '/usr/lib/libc.so.6'), ctx)).toBe('file /usr/lib/libc.so.6');
  });
  it('no touch line in sampled mode; an honest line without stacks', () => {
    expect(annotationLines(0x10000, { ...ctx, mode: 1 })).not.toContain("first touched by thread 4321 'worker-1'");
    expect(annotationLines(0x10000 + 6 * P, { ...ctx, stacks: new Map(), origins: new TagMap() })).toContain('no backtraces (run with --backtraces=mmap)');
  });
  it('describeHit appends them for a mapped address', () => {
    const { extents } = layoutMap(m);
    const lines = describeHit(m, extents, { kind: 'group', addr: 0x10000 + 17, colStart: 0x10000, colEnd: 0x10000 + P, groupStart: 0x10000, groupEnd: 0x20000, frac: [1, 0, 0, 0] }, ctx)!;
    expect(lines).toContain('mapped by alloc_big_a+0x1c (prog) prog.c:31');
    expect(lines.at(-1)).toBe('click to zoom to pages and see the backtrace');
  });
});
