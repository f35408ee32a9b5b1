/*
 * heat — hot and cold memory (mevi-run --heat, protocol version 3).
 *
 * Every process carries a heat map (store.ts `written`: a TagMap from ranges
 * to the last time, in ms since the session began, they were seen written).
 * This module owns what the view makes of it:
 *  - the overlay colours: resident memory written in the last interval is
 *    bright, fading with age (log scale, to dark after a minute); resident
 *    memory never seen written has its own tone (blue);
 *  - the "leak suspect" filter: resident, not written for more than N
 *    seconds (never written included) — those stand out, the rest is dimmed;
 *  - the totals of that, per process and per call site (origin map).
 * "Now" is the session's latest event time (so scrubbing into the past shows
 * the heat of that moment). The on/off state and N live here, with a
 * listener for the app to redraw; the control is ui/heatbar.ts.
 */
import { vmaKind, type ProcessState } from './store';
import { RESIDENT } from './memmap';

/** Age (ms) up to which memory counts as "written this interval" (brightest). */
export const HOT_MS = 1500;
/** Age (ms) at which the fade reaches its darkest tone. */
export const COLD_MS = 60000;

export interface HeatState {
  /** The overlay is shown. */
  on: boolean;
  /** Leak-suspect filter: resident and not written for more than this many seconds; null = off. */
  coldS: number | null;
}

export const heat: HeatState = { on: false, coldS: null };
const listeners: (() => void)[] = [];

/** Changes the state and tells the listeners (the app redraws). */
export function setHeat(patch: Partial<HeatState>): void {
  Object.assign(heat, patch);
  for (const f of listeners) f();
}

export function onHeatChange(f: () => void): void {
  listeners.push(f);
}

/** True when any process of the list has heat data (the session ran with --heat). */
export function hasHeat(procs: Iterable<ProcessState>): boolean {
  for (const p of procs) if (p.written && p.written.count > 0) return true;
  return false;
}

type Rgb = readonly [number, number, number];
const HOT: Rgb = [255, 92, 36];
const WARM: Rgb = [214, 160, 40];
const COLDEST: Rgb = [86, 62, 48];
const NEVER: Rgb = [58, 110, 168];
const SUSPECT: Rgb = [236, 64, 180];
const DIM: Rgb = [62, 66, 72];

function mix(a: Rgb, b: Rgb, f: number): Rgb {
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** The resident colour of memory last written at tMs (< 0: never), seen at nowMs. */
export function heatRgb(tMs: number, nowMs: number, coldS: number | null = null): Rgb {
  if (coldS !== null) return tMs < 0 || nowMs - tMs > coldS * 1000 ? SUSPECT : DIM;
  if (tMs < 0) return NEVER;
  const age = Math.max(0, nowMs - tMs);
  if (age <= HOT_MS) return HOT;
  const f = Math.min(1, Math.log(age / HOT_MS) / Math.log(COLD_MS / HOT_MS));
  return f < 0.3 ? mix(HOT, WARM, f / 0.3) : mix(WARM, COLDEST, (f - 0.3) / 0.7);
}

/** Little-endian RGBA pixel of an opaque colour (as ImageData's Uint32 view wants it). */
export function pixelOf([r, g, b]: Rgb): number {
  return ((255 << 24) | (Math.round(b) << 16) | (Math.round(g) << 8) | Math.round(r)) >>> 0;
}

/**
 * Per-column slot pixels (cols x 4: resident, swapped, not resident,
 * untracked) for the heat overlay: the resident slot takes the heat colour of
 * the column's last-write time (rasterizeTags of the heat map, -1 where
 * never written), the other slots keep `base`.
 */
export function heatPalette(written: Float64Array, cols: number, nowMs: number, base: Uint32Array, coldS: number | null, kinds: Float64Array | null = null): Uint32Array {
  const pal = new Uint32Array(cols * 4);
  const cache = new Map<number, number>();
  for (let c = 0; c < cols; c++) {
    const t = written[c]!;
    if (kinds && !heatTracked(kinds[c]!)) {
      pal.set(base, c * 4); // file, shared, special: heat does not watch them
      continue;
    }
    let px = cache.get(t);
    if (px === undefined) {
      px = pixelOf(heatRgb(t, nowMs, coldS));
      cache.set(t, px);
    }
    pal[c * 4] = px;
    pal[c * 4 + 1] = base[1]!;
    pal[c * 4 + 2] = base[2]!;
    pal[c * 4 + 3] = base[3]!;
  }
  return pal;
}

const slotColorCache = new Map<number, string[]>();

/**
 * Slot colours (resident, swapped, not resident, untracked) of a zoom-grid
 * cell under the heat overlay: the resident slot in the heat colour of the
 * cell's last-write time tMs (< 0: never written), the others as `base`
 * (the page-state colours); memory heat does not watch (vma of kind file and
 * up) keeps `base`. The same colour gives the same array (the grid painter
 * merges runs of identical arrays).
 */
export function heatSlotColors(tMs: number, nowMs: number, coldS: number | null, base: readonly string[], vma = -1): readonly string[] {
  if (!heatTracked(vma)) return base;
  const px = pixelOf(heatRgb(tMs, nowMs, coldS));
  let c = slotColorCache.get(px);
  if (!c) {
    const hex = (v: number): string => v.toString(16).padStart(2, '0');
    c = [`#${hex(px & 255)}${hex((px >>> 8) & 255)}${hex((px >>> 16) & 255)}`, base[1]!, base[2]!, base[3]!];
    slotColorCache.set(px, c);
  }
  return c;
}

/** Whether memory of this vma value (store.ts vmaValue, -1: none) is watched by heat: private anonymous kinds only. */
export function heatTracked(vma: number): boolean {
  return vma < 0 || vmaKind(vma) < FIRST_UNWATCHED_KIND;
}

/** Kinds from file (4) on (file, shmem, special) are never write-protected by mevi-run --heat. */
const FIRST_UNWATCHED_KIND = 4;

export interface ColdTotals {
  /** Resident bytes not written for more than coldS seconds (never written included). */
  cold: number;
  /** Of which never seen written. */
  never: number;
  /** Cold bytes by call site (stack id of the origin map; -1: no origin). */
  bySite: Map<number, number>;
}

/**
 * Resident memory of p not written for more than coldS seconds at nowMs:
 * one walk of the resident ranges, each split by the heat map and the origin
 * map. O(ranges) with the maps' own walks.
 */
export function coldTotals(p: ProcessState, nowMs: number, coldS: number): ColdTotals {
  const out: ColdTotals = { cold: 0, never: 0, bySite: new Map() };
  const limit = nowMs - coldS * 1000;
  const add = (s: number, e: number, never: boolean): void => {
    out.cold += e - s;
    if (never) out.never += e - s;
    let cur = s;
    p.origins.forEachIn(s, e, (os, oe, id) => {
      if (os > cur) out.bySite.set(-1, (out.bySite.get(-1) ?? 0) + (os - cur));
      out.bySite.set(id, (out.bySite.get(id) ?? 0) + (oe - os));
      cur = oe;
    });
    if (cur < e) out.bySite.set(-1, (out.bySite.get(-1) ?? 0) + (e - cur));
  };
  const watched = (s: number, e: number, fn: (s: number, e: number) => void): void => {
    let cur = s;
    p.vmas.forEachIn(s, e, (vs, ve, v) => {
      if (vs > cur) fn(cur, vs);
      if (heatTracked(v)) fn(vs, ve);
      cur = ve;
    });
    if (cur < e) fn(cur, e);
  };
  p.map.forEachIn(0, 2 ** 56, (rs, re, st) => {
    if (st === RESIDENT) watched(rs, re, (s, e) => coldRun(s, e));
  });
  return out;

  function coldRun(s: number, e: number): void {
    let cur = s;
    p.written.forEachIn(s, e, (ws, we, t) => {
      if (ws > cur) add(cur, ws, true);
      if (t < limit) add(ws, we, false);
      cur = we;
    });
    if (cur < e) add(cur, e, true);
  }
}

/** The session's "now" for heat, in ms since it began: its latest event time. */
export function heatNowMs(lastTsNs: number): number {
  return Math.floor(lastTsNs / 1e6);
}

let siteNamer: ((sessionId: number, stackId: number) => string) | null = null;

/** The app tells how to name a call site (its innermost known function). */
export function setHeatSiteNamer(f: (sessionId: number, stackId: number) => string): void {
  siteNamer = f;
}

export function heatSiteName(sessionId: number, stackId: number): string {
  if (stackId < 0) return 'no known call site';
  return siteNamer ? siteNamer(sessionId, stackId) : `stack ${stackId}`;
}
