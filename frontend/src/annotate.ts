/*
 * annotate — what the version 2 annotations tell about a process's memory:
 * resident bytes per memory kind, resident bytes per call site (the stack
 * that mapped them), the frame worth showing of a stack, stable colours per
 * stack. Pure functions, no DOM.
 *
 * Every function here walks a MemMap and a TagMap together, in address
 * order (overlay()): O(ranges + annotations), never a lookup per range.
 */
import { type MemMap, RESIDENT } from './memmap';
import type { TagMap } from './tagmap';
import { KIND_COUNT, KIND_NAMES, type Frame } from './protocol';
import { vmaKind } from './store';
import { formatAddress } from './format';

/** Human names per kind value, for legends and tooltips. */
export const KIND_LABELS = ['anon', 'heap', 'stack', 'thread stack', 'file', 'shmem', 'special'] as const;

/** Colour per kind value: the stripe above each bar, legend swatches, the breakdown bar. */
export const KIND_COLORS = ['#9e9e9e', '#f08c2e', '#38c172', '#17a2a2', '#5aa9e6', '#e0c52f', '#e46fd0'] as const;

/**
 * Calls fn(start, end, state, value) for every piece of the map's ranges
 * intersecting [start, end), split where the annotation changes; value is
 * -1 where the tag map has nothing. Both maps are walked once, in order.
 */
export function overlay(map: MemMap, tags: TagMap, start: number, end: number, fn: (s: number, e: number, state: number, value: number) => void): void {
  // The annotations of the window, in order (one walk).
  const ts: number[] = [];
  const te: number[] = [];
  const tv: number[] = [];
  tags.forEachIn(start, end, (s, e, v) => {
    ts.push(s);
    te.push(e);
    tv.push(v);
  });
  let j = 0;
  const n = ts.length;
  map.forEachChunkIn(start, end, (starts, ends, states, from, to) => {
    for (let i = from; i < to; i++) {
      let s = Math.max(starts[i]!, start);
      const e = Math.min(ends[i]!, end);
      const st = states[i]!;
      while (j < n && te[j]! <= s) j++;
      let k = j;
      while (s < e) {
        if (k >= n || ts[k]! >= e) {
          fn(s, e, st, -1);
          break;
        }
        if (ts[k]! > s) {
          fn(s, ts[k]!, st, -1);
          s = ts[k]!;
        }
        const pe = Math.min(te[k]!, e);
        fn(s, pe, st, tv[k]!);
        s = pe;
        if (te[k]! <= e) k++;
      }
    }
  });
}

/**
 * Resident bytes per memory kind (index = kind value). Resident pages with
 * no vma annotation count as anon, so the sum is always map.rss.
 */
export function kindBreakdown(map: MemMap, vmas: TagMap): number[] {
  const out = new Array<number>(KIND_COUNT).fill(0);
  if (map.rss === 0) return out;
  overlay(map, vmas, 0, Infinity, (s, e, st, v) => {
    if (st !== RESIDENT) return;
    out[v < 0 ? 0 : vmaKind(v)]! += e - s;
  });
  return out;
}

/** One row of the call-site table: the memory one stack mapped. */
export interface CallSite {
  /** The stack id, or -1 for memory without a known origin. */
  stackId: number;
  resident: number;
  /** Bytes mapped (any state). */
  mapped: number;
  /** Contiguous pieces of address space (counted per process). */
  ranges: number;
  pids: number[];
}

/** What callSites() reads of a process. */
export interface AnnotatedProcess {
  pid: number;
  alive: boolean;
  map: MemMap;
  origins: TagMap;
}

/**
 * Memory per call site over the given (live) processes, sorted by resident
 * bytes, then mapped bytes, then stack id; the row of unknown origin (-1)
 * is included when there is such memory. "Who uses my memory".
 */
export function callSites(procs: Iterable<AnnotatedProcess>): CallSite[] {
  const rows = new Map<number, CallSite>();
  for (const p of procs) {
    if (!p.alive) continue;
    let lastId = NaN;
    let lastEnd = -1;
    overlay(p.map, p.origins, 0, Infinity, (s, e, st, v) => {
      let row = rows.get(v);
      if (!row) {
        row = { stackId: v, resident: 0, mapped: 0, ranges: 0, pids: [] };
        rows.set(v, row);
      }
      if (row.pids[row.pids.length - 1] !== p.pid) row.pids.push(p.pid);
      row.mapped += e - s;
      if (st === RESIDENT) row.resident += e - s;
      if (!(v === lastId && s === lastEnd)) row.ranges++;
      lastId = v;
      lastEnd = e;
    });
  }
  return [...rows.values()].sort((a, b) => b.resident - a.resident || b.mapped - a.mapped || a.stackId - b.stackId);
}

/** Modules whose frames are plumbing (the allocator, the syscall wrapper), not call sites. */
const PLUMBING = /^(libc|ld-linux[^/]*|ld|libpthread|libdl|libstdc\+\+|libjemalloc|libtcmalloc[^/]*)([.-]|$)|^\[vdso\]$/;

/**
 * The frame to show for a stack: the innermost frame outside the C library,
 * the dynamic loader and allocators (mmap, malloc, operator new are where
 * every stack starts; the caller is the answer), else the innermost frame.
 */
export function callSiteFrame(frames: readonly Frame[]): Frame | null {
  for (const f of frames) {
    const mod = f.module.split('/').pop() ?? '';
    if (!PLUMBING.test(mod)) return f;
  }
  return frames[0] ?? null;
}

/** "alloc_big_a+0x1c (prog) prog.c:31" */
export function formatFrame(f: Frame): string {
  const mod = f.module ? f.module.split('/').pop() : '?';
  return `${f.func || formatAddress(f.pc)} (${mod})${f.source ? ` ${f.source}` : ''}`;
}

/** A stable, distinct colour per stack id (golden-angle hues), as [r, g, b]. */
export function stackRgb(id: number, lightness = 0.58): [number, number, number] {
  const h = ((id * 137.50776405) % 360 + 360) % 360;
  const s = 0.62;
  const l = lightness;
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))));
  return [f(0), f(8), f(4)];
}

/** stackRgb as "#rrggbb". */
export function stackColor(id: number, lightness = 0.58): string {
  if (id < 0) return '#6b6b6b';
  return `#${stackRgb(id, lightness)
    .map((c) => c.toString(16).padStart(2, '0'))
    .join('')}`;
}

/** "exact" or "sampled every 50 ms": a session's tracking mode as the page words it. */
export function formatMode(mode: number, sampleMs: number): string {
  if (mode === 0) return 'exact';
  if (mode !== 1) return `mode ${mode}`;
  if (!(sampleMs > 0)) return 'sampled';
  const every = sampleMs >= 1000 && sampleMs % 100 === 0 ? `${sampleMs / 1000} s` : `${sampleMs} ms`;
  return `sampled every ${every}`;
}

/** The kind name as the protocol spells it (e.g. for /api/state style output). */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`;
}
