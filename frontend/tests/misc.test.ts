import { describe, expect, it } from 'vitest';
import { RssHistory } from '../src/history';
import { keyAction } from '../src/keyboard';
import { describeHit } from '../src/describe';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { layoutMap } from '../src/layout';

describe('RssHistory', () => {
  it('merges same-timestamp points, extends flat stretches, clamps time going back', () => {
    const h = new RssHistory();
    h.push(0, 0);
    h.push(10, 5);
    h.push(10, 6);
    h.push(20, 6);
    h.push(30, 6);
    h.push(25, 7);
    expect(h.ts).toEqual([0, 10, 30]);
    // Stepped charts hold a value until the next point, so (10, 6) then (30, 7) still reads right.
    expect(h.rss).toEqual([0, 6, 7]);
  });
  it('stays bounded and keeps the whole time span', () => {
    const h = new RssHistory(64);
    for (let i = 0; i < 10_000; i++) h.push(i, i);
    expect(h.length).toBeLessThanOrEqual(64);
    expect(h.ts[0]).toBe(0);
    expect(h.ts[h.length - 1]).toBe(9999);
    for (let i = 1; i < h.length; i++) expect(h.ts[i]!).toBeGreaterThan(h.ts[i - 1]!);
  });
});

describe('keyboard', () => {
  it('maps the shortcuts and stays out of the way while typing', () => {
    expect(keyAction({ key: ' ' }, false)).toBe('pause');
    expect(keyAction({ key: '/' }, false)).toBe('focus-filter');
    expect(keyAction({ key: '?' }, false)).toBe('help');
    expect(keyAction({ key: 'Escape' }, true)).toBe('escape');
    expect(keyAction({ key: ' ' }, true)).toBeNull();
    expect(keyAction({ key: '/' }, false)).not.toBeNull();
    expect(keyAction({ key: '/', ctrlKey: true }, false)).toBeNull();
    expect(keyAction({ key: 'x' }, false)).toBeNull();
  });
});

describe('tooltip text', () => {
  const P = 4096;
  const m = new MemMap();
  m.set(0x10000, 0x10000 + 16 * P, NOT_RESIDENT);
  m.update(0x10000, 0x10000 + 4 * P, RESIDENT);
  const { extents } = layoutMap(m);

  it('names the range, its size and state, and the mapping it belongs to', () => {
    const lines = describeHit(m, extents, { kind: 'group', addr: 0x10000 + P + 7, colStart: 0x10000, colEnd: 0x10000 + P, groupStart: 0x10000, groupEnd: 0x10000 + 16 * P, frac: [1, 0, 0, 0] })!;
    expect(lines[0]).toBe('[0x10000, 0x14000)');
    expect(lines[1]).toBe('16 KiB · resident');
    expect(lines[2]).toBe('mapping [0x10000, 0x20000) · 64 KiB, 16 KiB resident (25%)');
    expect(lines.at(-1)).toBe('click to zoom to pages');
  });
  it('describes mixed pixels', () => {
    const lines = describeHit(m, extents, { kind: 'group', addr: 0x10000, colStart: 0x10000, colEnd: 0x10000 + 8 * P, groupStart: 0x10000, groupEnd: 0x20000, frac: [0.5, 0, 0.5, 0] })!;
    expect(lines).toContain('this pixel [0x10000, 0x18000): 50% resident · 50% not resident');
  });
  it('describes single pages when zoomed', () => {
    const lines = describeHit(m, extents, { kind: 'zoom-cell', addr: 0x10000 + 5 * P, cellStart: 0x15000, cellEnd: 0x16000, rowStart: 0x10000, rowEnd: 0x20000, pagesPerCell: 1, frac: [0, 0, 1, 0] })!;
    expect(lines[0]).toBe('page 0x15000 · not resident');
    expect(lines[1]).toBe('in range [0x14000, 0x20000) · 48 KiB');
  });
});
