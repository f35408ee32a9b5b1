import { describe, expect, it } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { buildFlame, bytesByStack, bytesFromState, countFrames, FlameLayout, FlameTree, frameName, stackPath, stacksOf, topFrames, UNKNOWN_ORIGIN, type FlameNode } from '../src/flame';
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

  // [name, start, width] of a row of a layout.
  const row = (l: FlameLayout, depth: number): [string, number, number][] => {
    const r = l.rows[depth]!;
    return r.nodes.map((n, i) => [n.name, r.x[i]!, r.w[i]!]);
  };

  it('lays children out side by side, largest first', () => {
    const l = new FlameLayout(buildFlame(bytesByStack([proc()], 'resident'), stacks), false);
    expect(l.total).toBe(7 * P);
    expect(row(l, 1)).toEqual([['main', 0, 6 * P], [UNKNOWN_ORIGIN, 6 * P, P]]);
    expect(row(l, 2)).toEqual([['alloc_a', 0, 4 * P], ['alloc_b', 4 * P, 2 * P]]);
    expect(FlameLayout.firstAfter(l.rows[2]!, 4 * P - 1)).toBe(0);
    expect(FlameLayout.firstAfter(l.rows[2]!, 4 * P)).toBe(1);
    expect(FlameLayout.firstAfter(l.rows[2]!, 6 * P)).toBe(2);
  });

  it('keeps a live tree up to date by differences, frames in place', () => {
    const t = new FlameTree('all', stacks);
    expect(t.update(new Map([[1, 4 * P], [2, 2 * P]]))).toBe('structure');
    const l = new FlameLayout(t.root, false);
    expect(t.frames).toBe(countFrames(t.root));
    expect(t.update(new Map([[1, 4 * P], [2, 2 * P]]))).toBe('none');
    // alloc_b grows past alloc_a: the same frames, so the order is kept.
    expect(t.update(new Map([[1, 4 * P], [2, 9 * P]]))).toBe('values');
    l.relayout(false);
    expect(row(l, 2)).toEqual([['alloc_a', 0, 4 * P], ['alloc_b', 4 * P, 9 * P]]);
    expect(t.root.value).toBe(13 * P);
    // The same as a tree built from scratch, frame for frame (frames left
    // with nothing stay, zero wide: memory coming back moves nothing).
    const same = (a: FlameNode, b: FlameNode | undefined): void => {
      if (a.value === 0 && !b) return;
      expect([a.name, a.value, [...a.stacks].sort()]).toEqual([b!.name, b!.value, [...b!.stacks].sort()]);
      expect([...a.children.values()].filter((c) => c.value !== 0).map((c) => c.name).sort()).toEqual([...b!.children.keys()].sort());
      for (const [k, c] of a.children) same(c, b!.children.get(k));
    };
    same(t.root, buildFlame(new Map([[1, 4 * P], [2, 9 * P]]), stacks));
    expect(t.top(10).map((n) => [n.name, n.value])).toEqual(topFrames(t.root, 10).map((n) => [n.name, n.value]));
    // A stack gone: its frames stay, zero wide (the order holds); a new one comes.
    expect(t.update(new Map([[2, 9 * P], [-1, P]]))).toBe('structure');
    same(t.root, buildFlame(new Map([[2, 9 * P], [-1, P]]), stacks));
    expect(t.frames).toBe(countFrames(t.root));
    l.relayout(true);
    expect(row(l, 1)).toEqual([['main', 0, 9 * P], [UNKNOWN_ORIGIN, 9 * P, P]]);
    expect(row(l, 2)).toEqual([['alloc_b', 0, 9 * P], ['alloc_a', 9 * P, 0]]);
    expect(t.top(10).map((n) => n.name)).not.toContain('alloc_a');
    expect(stacksOf(t.top(10).find((n) => n.name === 'main')!)).toEqual([2]);
    // It comes back: only values change.
    expect(t.update(new Map([[1, P], [2, 9 * P], [-1, P]]))).toBe('values');
    expect(t.update(new Map())).toBe('values');
    expect(t.root.value).toBe(0);
    expect(t.top(10)).toEqual([]);
  });

  it('diffs two moments: growth and shrinking per frame', () => {
    const a = new Map([[1, 4 * P], [2, 2 * P]]);
    const b = new Map([[1, 1 * P], [2, 6 * P]]);
    const root = buildFlame(b, stacks, a);
    const main = root.children.get('main')!;
    expect(main.children.get('alloc_b')!.value - main.children.get('alloc_b')!.before).toBe(4 * P);
    expect(main.children.get('alloc_a')!.value - main.children.get('alloc_a')!.before).toBe(-3 * P);
    const l = new FlameLayout(root, true);
    expect(main.children.get('alloc_b')!.color).toMatch(/^rgb\(2\d\d,/); // red
    expect(row(l, 2).find(([n]) => n === 'alloc_a')![2]).toBe(4 * P); // max(A, B)
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
