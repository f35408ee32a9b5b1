import { describe, expect, it } from 'vitest';
import { fillColumns, heights, zoomColumns } from '../src/render/mapcanvas';
import { MemMap } from '../src/memmap';
import { COLORS } from '../src/theme';

const P = 4096;

/** The ImageData pixel value (little-endian RGBA) of a #rrggbb colour. */
function px(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | (v >> 16)) >>> 0;
}

describe('column heights', () => {
  it('stacks proportions and keeps a lone page visible', () => {
    // Slots: resident, swapped, not resident, untracked.
    expect(heights(new Float32Array([1, 0, 0, 0]), 0, 28)).toEqual([28, 0, 0, 0]);
    expect(heights(new Float32Array([0.5, 0, 0.5, 0]), 0, 28)).toEqual([14, 0, 14, 0]);
    // 1 page of 1000 resident: still one pixel.
    expect(heights(new Float32Array([0.001, 0, 0.999, 0]), 0, 28)).toEqual([1, 0, 27, 0]);
    // A lone swapped page too.
    expect(heights(new Float32Array([0.5, 0.001, 0.499, 0]), 0, 28)).toEqual([13, 1, 14, 0]);
    // Nothing mapped: nothing drawn.
    expect(heights(new Float32Array([0, 0, 0, 0]), 0, 28)).toEqual([0, 0, 0, 0]);
    // Rounding never overflows the column.
    const h = heights(new Float32Array([0.25, 0.25, 0.25, 0.25]), 0, 10);
    expect(h[0] + h[1] + h[2] + h[3]).toBe(10);
  });
});

describe('fillColumns', () => {
  it('paints resident at the bottom, then swapped, not resident, untracked, background', () => {
    const frac = new Float32Array([1, 0, 0, 0, 0.5, 0, 0.5, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.5, 0]);
    const out = new Uint32Array(4 * 4);
    fillColumns(out, frac, 4, 4);
    const col = (c: number) => [0, 1, 2, 3].map((y) => out[y * 4 + c]);
    const R = px(COLORS.resident);
    const S = px(COLORS.swapped);
    const N = px(COLORS.notResident);
    const U = px(COLORS.untracked);
    const B = px(COLORS.groupBg);
    expect(col(0)).toEqual([R, R, R, R]);
    expect(col(1)).toEqual([N, N, R, R]);
    expect(col(2)).toEqual([B, B, B, U]);
    expect(col(3)).toEqual([N, N, S, R]);
  });

  it('takes per-column colours (group by call site)', () => {
    const frac = new Float32Array([1, 0, 0, 0, 0, 0, 1, 0]);
    const out = new Uint32Array(2 * 2);
    const pal = Uint32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    fillColumns(out, frac, 2, 2, pal);
    expect([...out]).toEqual([1, 7, 1, 7]);
  });
});

describe('zoom grid columns', () => {
  it('is a power of two with cells at least 4.5 px wide', () => {
    expect(zoomColumns(1200)).toBe(256);
    expect(zoomColumns(2400)).toBe(512);
    expect(zoomColumns(600)).toBe(128);
    expect(zoomColumns(100)).toBe(32);
  });
});

describe('MemMap.forEachChunkIn', () => {
  it('visits exactly the ranges intersecting the window, across chunks', () => {
    const flat: number[] = [];
    for (let i = 0; i < 5000; i++) flat.push(i * 2 * P, (i * 2 + 1) * P, i % 2); // holes between ranges
    const m = MemMap.fromFlat(flat);
    const seen: number[] = [];
    m.forEachChunkIn(1001 * P, 3001 * P, (s, _e, _st, from, to) => {
      for (let i = from; i < to; i++) seen.push(s[i]! / P);
    });
    // Ranges start at even pages; [1000, 1001) ends at 1001 so it is out, [3000, 3001) is in.
    expect(seen[0]).toBe(1002);
    expect(seen[seen.length - 1]).toBe(3000);
    expect(seen.length).toBe(1000);
    let n = 0;
    m.forEachChunkIn(0, Infinity, (_s, _e, _st, from, to) => {
      n += to - from;
    });
    expect(n).toBe(5000);
    m.forEachChunkIn(20000 * P, 30000 * P, () => {
      throw new Error('nothing is there');
    });
  });
});
