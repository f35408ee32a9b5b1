import { describe, expect, it } from 'vitest';
import { Store } from '../src/store';
import { type MeviEvent } from '../src/protocol';
import { RESIDENT, NOT_RESIDENT } from '../src/memmap';
import { coldTotals, heatPalette, heatRgb, heatSlotColors, pixelOf, HOT_MS } from '../src/heat';
import { paintRuns } from '../src/render/mapcanvas';
import { rasterizeTags } from '../src/layout';
import { COLORS } from '../src/theme';

const P = 4096;
const S = 1e9;

function session(untilNs = Infinity): Store {
  const s = new Store();
  const evs: MeviEvent[] = [
    { type: 'session_start', pid: 100, ts: 0, version: 3, mode: 1, resume: false, started_at: 1n, argv: ['p'], sample_ms: 50 },
    { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['p'] },
    { type: 'map', pid: 101, ts: 2, start: 0, end: 64 * P, state: NOT_RESIDENT },
    { type: 'state', pid: 101, ts: 3, start: 0, end: 48 * P, state: RESIDENT },
    { type: 'origin', pid: 101, ts: 3, start: 0, end: 16 * P, stack_id: 7 },
    // hot: 0..16 written at 10 s; once: 16..32 written at 1 s; never: 32..48.
    { type: 'written', pid: 101, ts: 1 * S, start: 16 * P, end: 32 * P, t: 1 * S },
    { type: 'written', pid: 101, ts: 10 * S, start: 0, end: 16 * P, t: 10 * S },
    // written but no longer resident: not a suspect.
    { type: 'written', pid: 101, ts: 10 * S, start: 48 * P, end: 50 * P, t: 2 * S },
  ];
  s.applyBatch(1, evs.filter((e) => e.ts <= untilNs));
  return s;
}

describe('heat (protocol version 3)', () => {
  it('applies written events in ms and follows unmap', () => {
    const s = session();
    const p = s.sessions.get(1)!.processes.get(101)!;
    expect(p.written.get(0)).toBe(10000);
    expect(p.written.get(20 * P)).toBe(1000);
    expect(p.written.get(40 * P)).toBeUndefined();
    s.applyBatch(1, [{ type: 'unmap', pid: 101, ts: 11 * S, start: 16 * P, end: 20 * P }]);
    expect(p.written.get(17 * P)).toBeUndefined();
  });

  it('counts resident memory not written for N s, never written included, per call site', () => {
    const p = session().sessions.get(1)!.processes.get(101)!;
    const t = coldTotals(p, 10000, 5);
    expect(t.cold).toBe(32 * P); // once (16 pages) + never (16 pages)
    expect(t.never).toBe(16 * P);
    expect(t.bySite.get(-1)).toBe(32 * P);
    expect(t.bySite.get(7)).toBeUndefined();
    expect(coldTotals(p, 10000, 20).cold).toBe(16 * P); // only the never-written
    expect(coldTotals(p, 30000, 5).bySite.get(7)).toBe(16 * P); // the hot buffer went cold
  });

  it('colours by age: hot brightest, fading, never its own tone, suspects stand out', () => {
    const hot = heatRgb(9000, 10000);
    const warm = heatRgb(0, 10000);
    const cold = heatRgb(0, 100000);
    expect(hot[0]).toBeGreaterThan(warm[0]);
    expect(warm[0]).toBeGreaterThan(cold[0]);
    expect(heatRgb(10000 - HOT_MS, 10000)).toEqual(hot);
    const never = heatRgb(-1, 10000);
    expect(never[2]).toBeGreaterThan(never[0]);
    expect(heatRgb(-1, 10000, 5)).toEqual(heatRgb(0, 10000, 5));
    expect(heatRgb(9000, 10000, 5)).not.toEqual(heatRgb(0, 10000, 5));
    const base = Uint32Array.from([1, 2, 3, 4]);
    const pal = heatPalette(Float64Array.from([9000, -1]), 2, 10000, base, null);
    expect(pal[0]).toBe(pixelOf(hot));
    expect(pal[4]).toBe(pixelOf(never));
    expect([...pal.subarray(1, 4)]).toEqual([2, 3, 4]);
  });
});

describe('heat: only what mevi-run watches', () => {
  it('file, shared and special memory is neither cold nor coloured', () => {
    const s = session();
    s.applyBatch(1, [{ type: 'vma', pid: 101, ts: 11 * S, start: 32 * P, end: 48 * P, kind: 4, name: '/lib/x.so' }]);
    const p = s.sessions.get(1)!.processes.get(101)!;
    const t = coldTotals(p, 10000, 5);
    expect(t.cold).toBe(16 * P); // the once buffer only: the file pages are not watched
    expect(t.never).toBe(0);
    const base = Uint32Array.from([1, 2, 3, 4]);
    const pal = heatPalette(Float64Array.from([-1]), 1, 10000, base, null, Float64Array.from([p.vmas.get(40 * P)!]));
    expect([...pal]).toEqual([1, 2, 3, 4]);
  });
});

describe('heat on the zoomed page grid', () => {
  const BASE = [COLORS.resident, COLORS.swapped, COLORS.notResident, COLORS.untracked];
  const hex = ([r, g, b]: readonly [number, number, number]): string => `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;

  it('cells take the heat colour of their last write, never-written its own tone, unwatched kinds the page colours', () => {
    const hot = heatSlotColors(9000, 10000, null, BASE);
    expect(hot[0]).toBe(hex(heatRgb(9000, 10000)));
    expect(hot.slice(1)).toEqual(BASE.slice(1));
    expect(heatSlotColors(9500, 10000, null, BASE)).toBe(hot); // same colour, same array: runs merge
    expect(heatSlotColors(-1, 10000, null, BASE)[0]).toBe(hex(heatRgb(-1, 10000)));
    expect(heatSlotColors(-1, 10000, 5, BASE)[0]).toBe(hex(heatRgb(-1, 10000, 5)));
    // A file mapping (kind 4): not watched, so the page-state colours.
    const s = session();
    s.applyBatch(1, [{ type: 'vma', pid: 101, ts: 11 * S, start: 32 * P, end: 48 * P, kind: 4, name: '/lib/x.so' }]);
    const vma = s.sessions.get(1)!.processes.get(101)!.vmas.get(40 * P)!;
    expect(heatSlotColors(-1, 10000, null, BASE, vma)).toBe(BASE);
  });

  it('one cell per page: hot, once-written and never-written pages in their colours, as of the moment shown', () => {
    // 48 resident pages, one cell each.
    let written = rasterizeTags(session().sessions.get(1)!.processes.get(101)!.written, 0, 48 * P, 48);
    const frac = new Float32Array(48 * 4);
    for (let c = 0; c < 48; c++) frac[c * 4] = 1;
    const fills: [string, number][] = [];
    const fake = {
      fillStyle: '',
      fillRect(x: number): void {
        fills.push([fake.fillStyle, x]);
      },
    };
    const ctx = fake as unknown as CanvasRenderingContext2D;
    const paint = (nowMs: number): [string, number][] => {
      fills.length = 0;
      paintRuns(ctx, frac, 48, 0, 0, 1, 10, (c) => heatSlotColors(written[c]!, nowMs, null, BASE));
      return [...fills];
    };
    // At 10 s: pages 0..16 hot, 16..32 written 9 s ago (faded), 32..48 never.
    expect(paint(10000)).toEqual([
      [hex(heatRgb(10000, 10000)), 0],
      [hex(heatRgb(1000, 10000)), 16],
      [hex(heatRgb(-1, 10000)), 32],
    ]);
    // Scrubbed back to 2 s (the session as it was then, "now" then): the
    // once-written pages were hot and the hot buffer not yet written.
    written = rasterizeTags(session(2 * S).sessions.get(1)!.processes.get(101)!.written, 0, 48 * P, 48);
    expect(paint(2000)).toEqual([
      [hex(heatRgb(-1, 2000)), 0],
      [hex(heatRgb(2000, 2000)), 16],
      [hex(heatRgb(-1, 2000)), 32],
    ]);
  });
});
