/*
 * layout — turns a memory map into what the view draws: groups of ranges
 * close in the address space, the gaps between them, and per-pixel-column
 * state fractions. Pure functions, no DOM.
 */
import { type MemMap, RESIDENT } from './memmap';
import type { TagMap } from './tagmap';

/** Ranges less than this far apart belong to the same group. */
export const GROUP_GAP = 16 * 1024 * 1024;
/** The smallest bar scale (the original's 4 MiB). */
export const MIN_SCALE = 4 * 1024 * 1024;

export interface Group {
  start: number;
  end: number;
  rss: number;
  vsz: number;
  count: number;
  /** Bytes the bar represents: the next power of two at or above end - start. */
  scale: number;
}

export interface MapLayout {
  groups: Group[];
  /**
   * Contiguous mapped extents (adjacent ranges without holes between them), flat
   * [start0, end0, start1, end1, ...]: what the tooltip calls "the mapping".
   */
  extents: Float64Array;
}

/** The next power of two at or above n, at least MIN_SCALE. */
export function scaleFor(n: number): number {
  let s = MIN_SCALE;
  while (s < n) s *= 2;
  return s;
}

/** Groups the map's ranges and lists its mapped extents. O(number of ranges). */
export function layoutMap(map: MemMap, gap = GROUP_GAP): MapLayout {
  const groups: Group[] = [];
  const ext: number[] = [];
  let g: Group | null = null;
  map.forEachChunkIn(0, Infinity, (starts, ends, states, from, to) => {
    for (let i = from; i < to; i++) {
      const s = starts[i]!;
      const e = ends[i]!;
      if (!g || s - g.end >= gap) {
        if (g) groups.push(finish(g));
        g = { start: s, end: e, rss: 0, vsz: 0, count: 0, scale: 0 };
      }
      g.end = e;
      g.vsz += e - s;
      if (states[i] === RESIDENT) g.rss += e - s;
      g.count++;
      const n = ext.length;
      if (n > 0 && ext[n - 1] === s) ext[n - 1] = e;
      else ext.push(s, e);
    }
  });
  if (g) groups.push(finish(g));
  return { groups, extents: Float64Array.from(ext) };
}

function finish(g: Group): Group {
  g.scale = scaleFor(g.end - g.start);
  return g;
}

/** The extent [start, end) containing addr, or null. Binary search. */
export function extentAt(extents: Float64Array, addr: number): [number, number] | null {
  let lo = 0;
  let hi = extents.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (extents[mid * 2 + 1]! > addr) hi = mid;
    else lo = mid + 1;
  }
  if (lo * 2 >= extents.length || extents[lo * 2]! > addr) return null;
  return [extents[lo * 2]!, extents[lo * 2 + 1]!];
}

export type Row =
  | { kind: 'group'; group: Group; index: number }
  | { kind: 'gap'; bytes: number; hidden: number };

export interface RowOptions {
  showGaps: boolean;
  showNonResident: boolean;
}

/**
 * The rows to draw: visible groups, and (with showGaps) a gap row between two
 * visible groups saying how far apart they are and how many groups without
 * resident pages were hidden in between.
 */
export function buildRows(groups: readonly Group[], opts: RowOptions): Row[] {
  const rows: Row[] = [];
  let prev: Group | null = null;
  let hidden = 0;
  groups.forEach((group, index) => {
    if (!opts.showNonResident && group.rss === 0) {
      hidden++;
      return;
    }
    if (prev && opts.showGaps) rows.push({ kind: 'gap', bytes: group.start - prev.end, hidden });
    rows.push({ kind: 'group', group, index });
    prev = group;
    hidden = 0;
  });
  return rows;
}

/** Slots of a raster cell, bottom-up: resident, swapped, not resident, untracked. */
export const SLOTS = 4;

/** Per-column byte fractions of the four states. */
export interface Raster {
  width: number;
  /** [resident, swapped, not resident, untracked] fractions per column: frac[x * SLOTS + slot]. */
  frac: Float32Array;
  /** Ranges at least `minLabelPx` wide: flat [x0, x1, state, bytes, ...] in columns. */
  wide: number[];
}

/** State value -> slot: resident first (lowest), then swapped, not resident, untracked. */
export const STATE_SLOT = [2, 0, 3, 1];

/**
 * Rasterises [start, start + scale) of the map into `width` columns. Each
 * column gets the fraction of its bytes in each state (holes are the rest).
 * O(ranges in the window + width).
 */
export function rasterize(map: MemMap, start: number, scale: number, width: number, minLabelPx = 24): Raster {
  const frac = new Float32Array(width * SLOTS);
  const wide: number[] = [];
  const colBytes = scale / width;
  const end = start + scale;
  map.forEachChunkIn(start, end, (starts, ends, states, from, to) => {
    for (let i = from; i < to; i++) {
      const s = Math.max(starts[i]!, start);
      const e = Math.min(ends[i]!, end);
      const st = states[i]!;
      const slot = STATE_SLOT[st]!;
      const x0 = (s - start) / colBytes;
      const x1 = (e - start) / colBytes;
      if (x1 - x0 >= minLabelPx) wide.push(x0, x1, st, e - s);
      const c0 = Math.floor(x0);
      const last = Math.min(width - 1, Math.ceil(x1) - 1);
      if (c0 === last) {
        frac[c0 * SLOTS + slot]! += x1 - x0; // the common case: inside one column
        continue;
      }
      for (let c = c0; c <= last; c++) frac[c * SLOTS + slot]! += Math.min(x1, c + 1) - Math.max(x0, c);
    }
  });
  return { width, frac, wide };
}

/**
 * Page-granular grid for a zoomed window: `cols` cells per row, each cell
 * covering `pagesPerCell` pages. Returns the cell count and the fractions of
 * each cell (same layout as Raster.frac).
 */
export interface Grid {
  start: number;
  end: number;
  cols: number;
  rows: number;
  pagesPerCell: number;
  cells: number;
  frac: Float32Array;
}

export const PAGE = 4096;

export function gridFor(start: number, end: number, cols: number, maxRows: number): Omit<Grid, 'frac'> {
  const pages = Math.ceil((end - start) / PAGE);
  let pagesPerCell = 1;
  while (Math.ceil(pages / pagesPerCell / cols) > maxRows) pagesPerCell *= 2;
  const cells = Math.ceil(pages / pagesPerCell);
  return { start, end, cols, rows: Math.ceil(cells / cols), pagesPerCell, cells };
}

export function rasterizeGrid(map: MemMap, start: number, end: number, cols: number, maxRows: number): Grid {
  const g = gridFor(start, end, cols, maxRows);
  const frac = new Float32Array(g.cells * SLOTS);
  const cellBytes = g.pagesPerCell * PAGE;
  map.forEachIn(start, end, (s, e, st) => {
    const slot = STATE_SLOT[st]!;
    const c0 = (s - start) / cellBytes;
    const c1 = (e - start) / cellBytes;
    const last = Math.min(g.cells - 1, Math.ceil(c1) - 1);
    for (let c = Math.floor(c0); c <= last; c++) frac[c * SLOTS + slot]! += Math.min(c1, c + 1) - Math.max(c0, c);
  });
  return { ...g, frac };
}

/**
 * The dominant annotation of each of `width` columns covering
 * [start, start + scale): the value of the longest annotated piece in the
 * column, or -1 where nothing is annotated. One walk of the annotations in
 * the window: O(annotated ranges in the window + width), never a lookup per
 * range or per pixel.
 */
export function rasterizeTags(tags: TagMap, start: number, scale: number, width: number): Float64Array {
  const best = new Float64Array(width).fill(-1);
  const bestLen = new Float64Array(width);
  const colBytes = scale / width;
  tags.forEachIn(start, start + scale, (s, e, v) => {
    const x0 = (s - start) / colBytes;
    const x1 = (e - start) / colBytes;
    const c0 = Math.floor(x0);
    const last = Math.min(width - 1, Math.ceil(x1) - 1);
    for (let c = c0; c <= last; c++) {
      const len = Math.min(x1, c + 1) - Math.max(x0, c);
      if (len > bestLen[c]!) {
        bestLen[c] = len;
        best[c] = v;
      }
    }
  });
  return best;
}
