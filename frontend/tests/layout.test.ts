import { describe, expect, it } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT, SWAPPED, UNTRACKED } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { buildRows, extentAt, gridFor, GROUP_GAP, layoutMap, MIN_SCALE, rasterize, rasterizeGrid, rasterizeTags, scaleFor } from '../src/layout';

const P = 4096;
const MiB = 2 ** 20;

function sample(): MemMap {
  const m = new MemMap();
  m.set(0x1000000, 0x1000000 + 8 * MiB, NOT_RESIDENT); // heap-ish group, 8 MiB...
  m.update(0x1000000, 0x1000000 + 2 * MiB, RESIDENT);
  m.set(0x1000000 + 9 * MiB, 0x1000000 + 10 * MiB, UNTRACKED); // ...plus a 1 MiB neighbour 1 MiB away
  m.set(0x7f0000000000, 0x7f0000000000 + 64 * MiB, NOT_RESIDENT); // a far group with no resident page
  m.set(0x7ffff0000000, 0x7ffff0000000 + 132 * 1024, RESIDENT); // a stack
  return m;
}

describe('groups', () => {
  it('splits on gaps of GROUP_GAP or more, and scales to the next power of two', () => {
    const { groups } = layoutMap(sample());
    expect(groups.map((g) => [g.start, g.end, g.count])).toEqual([
      [0x1000000, 0x1000000 + 10 * MiB, 3],
      [0x7f0000000000, 0x7f0000000000 + 64 * MiB, 1],
      [0x7ffff0000000, 0x7ffff0000000 + 132 * 1024, 1],
    ]);
    expect(groups.map((g) => g.scale)).toEqual([16 * MiB, 64 * MiB, MIN_SCALE]);
    expect(groups.map((g) => g.rss)).toEqual([2 * MiB, 0, 132 * 1024]);
    expect(groups[0]!.vsz).toBe(9 * MiB);
  });

  it('keeps ranges just under the threshold together', () => {
    const m = new MemMap();
    m.set(0, P, RESIDENT);
    m.set(P + GROUP_GAP - P, 2 * P + GROUP_GAP, RESIDENT);
    expect(layoutMap(m).groups.length).toBe(1);
    m.set(3 * P + 2 * GROUP_GAP, 4 * P + 2 * GROUP_GAP, RESIDENT);
    expect(layoutMap(m).groups.length).toBe(2);
  });

  it('scaleFor', () => {
    expect(scaleFor(1)).toBe(MIN_SCALE);
    expect(scaleFor(MIN_SCALE + 1)).toBe(2 * MIN_SCALE);
    expect(scaleFor(2 ** 40)).toBe(2 ** 40);
  });

  it('extents join touching ranges and answer lookups', () => {
    const { extents } = layoutMap(sample());
    expect(extentAt(extents, 0x1000000 + 3 * MiB)).toEqual([0x1000000, 0x1000000 + 8 * MiB]);
    expect(extentAt(extents, 0x1000000 + 8 * MiB)).toBeNull();
    expect(extentAt(extents, 0x1000000 + 9 * MiB)).toEqual([0x1000000 + 9 * MiB, 0x1000000 + 10 * MiB]);
    expect(extentAt(extents, 0)).toBeNull();
    expect(extentAt(extents, 2 ** 50)).toBeNull();
  });
});

describe('rows', () => {
  const { groups } = layoutMap(sample());
  it('interleaves gap rows sized by the distance between groups', () => {
    const rows = buildRows(groups, { showGaps: true, showNonResident: true });
    expect(rows.map((r) => r.kind)).toEqual(['group', 'gap', 'group', 'gap', 'group']);
    const gap = rows[1]!;
    expect(gap.kind === 'gap' && gap.bytes).toBe(0x7f0000000000 - (0x1000000 + 10 * MiB));
  });
  it('hides groups without resident pages and says so in the gap row', () => {
    const rows = buildRows(groups, { showGaps: true, showNonResident: false });
    expect(rows.map((r) => r.kind)).toEqual(['group', 'gap', 'group']);
    const gap = rows[1]!;
    expect(gap.kind === 'gap' && gap.hidden).toBe(1);
    expect(buildRows(groups, { showGaps: false, showNonResident: false }).length).toBe(2);
  });
});

describe('rasterize', () => {
  it('gives each column the fraction of its bytes in each state', () => {
    const m = new MemMap();
    m.set(0, 4 * P, RESIDENT);
    m.set(4 * P, 6 * P, NOT_RESIDENT);
    m.set(6 * P, 7 * P, UNTRACKED);
    // 8 pages over 4 columns: 2 pages per column.
    const r = rasterize(m, 0, 8 * P, 4, 1000);
    // Slots: resident, swapped, not resident, untracked.
    const cols = [0, 1, 2, 3].map((c) => Array.from(r.frac.subarray(c * 4, c * 4 + 4)));
    expect(cols).toEqual([
      [1, 0, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0.5],
    ]);
  });
  it('gives swapped pages their own slot', () => {
    const m = new MemMap();
    m.set(0, 2 * P, RESIDENT);
    m.set(2 * P, 4 * P, SWAPPED);
    const r = rasterize(m, 0, 4 * P, 2, 1000);
    expect(Array.from(r.frac)).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    expect(m.rss).toBe(2 * P);
    expect(m.swap).toBe(2 * P);
    expect(m.vsz).toBe(4 * P);
  });
  it('lists ranges wide enough for a label', () => {
    const m = new MemMap();
    m.set(0, 512 * P, RESIDENT);
    m.set(512 * P, 513 * P, NOT_RESIDENT);
    const r = rasterize(m, 0, 1024 * P, 1024, 24);
    expect(r.wide).toEqual([0, 512, RESIDENT, 512 * P]);
  });
  it('handles 200k ranges in one group', () => {
    const flat: number[] = [];
    for (let i = 0; i < 200_000; i++) flat.push(i * P, (i + 1) * P, i % 2);
    const m = MemMap.fromFlat(flat);
    const g = layoutMap(m).groups[0]!;
    const r = rasterize(m, g.start, g.scale, 1000);
    let sum = 0;
    for (const f of r.frac) sum += f;
    expect(sum).toBeCloseTo((200_000 * P) / (g.scale / 1000), 3);
  });
});

describe('zoom grid', () => {
  it('uses one page per cell when it fits, doubling otherwise', () => {
    expect(gridFor(0, 1024 * P, 128, 100)).toMatchObject({ pagesPerCell: 1, cells: 1024, rows: 8 });
    expect(gridFor(0, 65536 * P, 128, 100)).toMatchObject({ pagesPerCell: 8, cells: 8192, rows: 64 });
  });
  it('marks single pages exactly', () => {
    const m = new MemMap();
    m.set(0, 16 * P, NOT_RESIDENT);
    m.update(5 * P, 6 * P, RESIDENT);
    const g = rasterizeGrid(m, 0, 16 * P, 8, 10);
    expect(Array.from(g.frac.subarray(5 * 4, 6 * 4))).toEqual([1, 0, 0, 0]);
    expect(Array.from(g.frac.subarray(4 * 4, 5 * 4))).toEqual([0, 0, 1, 0]);
  });
});

describe('rasterizeTags', () => {
  it('gives each column its dominant annotation, -1 where there is none', () => {
    const t = new TagMap();
    t.set(0, 3 * P, 7); // column 0 (pages 0-1) and half of column 1
    t.set(3 * P, 4 * P, 9);
    t.set(6 * P, 7 * P, 5);
    expect(Array.from(rasterizeTags(t, 0, 8 * P, 4))).toEqual([7, 7, -1, 5]);
  });
  it('walks only the window', () => {
    const t = new TagMap();
    for (let i = 0; i < 10000; i++) t.set(i * 2 * P, (i * 2 + 1) * P, i % 5);
    expect(Array.from(rasterizeTags(t, 100 * P, 4 * P, 4))).toEqual([0, -1, 1, -1]);
  });
});
