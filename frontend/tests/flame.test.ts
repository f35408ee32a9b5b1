import { describe, expect, it } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { buildFlame, bytesByStack, bytesFromState, frameName, stackPath, stacksOf, toChart, topFrames, UNKNOWN_ORIGIN } from '../src/flame';
import type { Frame } from '../src/protocol';

const P = 4096;
const f = (func: string, module = 'prog'): Frame => ({ pc: 0x401000, func, module, source: null });
// Innermost first, as on the wire.
const stacks = new Map<number, Frame[]>([
  [1, [f('__mmap+0x13', 'libc.so.6'), f('alloc_a+0x1c'), f('main+0x10')]],
  [2, [f('__mmap+0x13', 'libc.so.6'), f('alloc_b+0x8'), f('main+0x20')]],
]);

function proc(): { pid: number; alive: boolean; map: MemMap; origins: TagMap } {
  const map = MemMap.fromFlat([0, 4 * P, RESIDENT, 4 * P, 8 * P, NOT_RESIDENT, 8 * P, 10 * P, RESIDENT, 10 * P, 11 * P, RESIDENT + 0]);
  const origins = new TagMap();
  origins.set(0, 8 * P, 1);
  origins.set(8 * P, 10 * P, 2);
  return { pid: 7, alive: true, map, origins };
}

describe('flame', () => {
  it('names frames without offsets, outermost first', () => {
    expect(frameName(f('alloc_a+0x1c'))).toBe('alloc_a');
    expect(frameName({ pc: 0x10, func: '', module: '/lib/x.so', source: null })).toBe('x.so+0x10');
    expect(stackPath(1, stacks)).toEqual(['main', 'alloc_a', '__mmap']);
    expect(stackPath(-1, stacks)).toEqual([UNKNOWN_ORIGIN]);
    expect(stackPath(9, stacks)).toEqual(['[stack 9]']);
  });

  it('builds the tree of resident and mapped bytes by stack', () => {
    const res = bytesByStack([proc()], 'resident');
    expect([...res.entries()].sort()).toEqual([[-1, P], [1, 4 * P], [2, 2 * P]]);
    const root = buildFlame(res, stacks);
    expect(root.value).toBe(7 * P);
    const main = root.children.get('main')!;
    expect(main.value).toBe(6 * P);
    expect(main.children.get('alloc_a')!.value).toBe(4 * P);
    expect(stacksOf(main.children.get('alloc_a')!)).toEqual([1]);
    expect(stacksOf(main).sort()).toEqual([1, 2]);
    expect(stacksOf(topFrames(buildFlame(res, stacks), 10).find((n) => n.name === '__mmap')!).sort()).toEqual([1, 2]);
    expect(buildFlame(bytesByStack([proc()], 'mapped'), stacks).children.get('main')!.children.get('alloc_a')!.value).toBe(8 * P);
  });

  it('lays children out side by side, largest first', () => {
    const chart = toChart(buildFlame(bytesByStack([proc()], 'resident'), stacks), false);
    const main = chart.children!.find((c) => c.name === 'main')!;
    expect(main.children!.map((c) => [c.name, c.start, c.duration])).toEqual([
      ['alloc_a', main.start, 4 * P],
      ['alloc_b', main.start + 4 * P, 2 * P],
    ]);
  });

  it('diffs two moments: growth and shrinking per frame', () => {
    const a = new Map([[1, 4 * P], [2, 2 * P]]);
    const b = new Map([[1, 1 * P], [2, 6 * P]]);
    const root = buildFlame(b, stacks, a);
    const main = root.children.get('main')!;
    expect(main.children.get('alloc_b')!.value - main.children.get('alloc_b')!.before).toBe(4 * P);
    expect(main.children.get('alloc_a')!.value - main.children.get('alloc_a')!.before).toBe(-3 * P);
    const chart = toChart(root, true);
    const kids = chart.children![0]!.children!;
    expect(kids.find((c) => c.name === 'alloc_b')!.color).toMatch(/^rgb\(2\d\d,/); // red
    expect(kids.find((c) => c.name === 'alloc_a')!.duration).toBe(4 * P); // max(A, B)
    expect(topFrames(root, 3).map((n) => [n.name, n.value, n.before])).toEqual([['__mmap', 7 * P, 6 * P], ['main', 7 * P, 6 * P], ['alloc_b', 6 * P, 2 * P]]);
  });

  it('reads /api/state answers (ranges against origins)', () => {
    const state = {
      sessions: [
        {
          id: 3,
          alive: true,
          processes: [
            { pid: 7, alive: true, ranges: [[0, 4 * P, 'resident'], [4 * P, 8 * P, 'not_resident'], [8 * P, 11 * P, 'resident']], origins: [[0, 8 * P, 1], [8 * P, 10 * P, 2]], stacks: { '1': stacks.get(1), '2': stacks.get(2) } },
            { pid: 8, alive: false, ranges: [[0, P, 'resident']], origins: [] },
          ],
        },
      ],
    };
    const { bytes, stacks: st } = bytesFromState(state, 3, null, 'resident');
    expect([...bytes.entries()].sort()).toEqual([[-1, P], [1, 4 * P], [2, 2 * P]]);
    expect(st.size).toBe(2);
    expect(bytesFromState(state, 3, null, 'mapped').bytes.get(1)).toBe(8 * P);
  });
});
