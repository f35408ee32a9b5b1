import { describe, expect, it } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { buildFlame, bytesByStack, bytesFromState, countFrames, diffColor, FlameLayout, FlameTree, frameName, liveGraph, nameColor, refreshLive, stackPath, stacksOf, topFrames, UNKNOWN_ORIGIN, type FlameNode } from '../src/flame';
import { StackBytesSet } from '../src/stackbytes';
import type { Frame } from '../src/protocol';
import { randomEvent, rng } from './shared';

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

// A live tree against one built from scratch: the same frames with bytes
// (a live frame left with nothing stays, zero wide), the same values and stacks.
const same = (a: FlameNode, b: FlameNode | undefined): void => {
  if (a.value === 0 && !b) return;
  expect([a.name, a.value, [...a.stacks].sort()]).toEqual([b!.name, b!.value, [...b!.stacks].sort()]);
  expect([...a.children.values()].filter((c) => c.value !== 0).map((c) => c.name).sort()).toEqual([...b!.children.keys()].sort());
  for (const [k, c] of a.children) same(c, b!.children.get(k));
};

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

  it('colours frames from a small palette (one fill per colour when drawn)', () => {
    const names = Array.from({ length: 5000 }, (_, i) => `fn_${i}`);
    const colours = new Set(names.map(nameColor));
    expect(colours.size).toBeLessThanOrEqual(64);
    expect(colours.size).toBeGreaterThan(32);
    expect(nameColor('main')).toBe(nameColor('main'));
    for (const c of colours) expect(c).toMatch(/^rgb\((2[0-5]\d),(\d+),(\d+)\)$/);
    const node = (value: number, before: number): FlameNode => ({ name: 'x', value, before, stacks: [], children: new Map() });
    const diffs = new Set<string>();
    for (let v = 0; v <= 1000; v++) diffs.add(diffColor(node(v, 1000 - v)));
    expect(diffs.size).toBeLessThanOrEqual(2 * 25 + 1);
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

  it('keeps a live graph by differences equal to one built from scratch, refresh by refresh', () => {
    // 60 stacks over shared callers (one recursive, some shallow; 57-60 are
    // not in the table: "[stack N]"), ids used for the first time late on
    // (new frames: a full relayout), memory no origin covers.
    const table = new Map<number, Frame[]>();
    for (let k = 1; k <= 56; k++) {
      const path = k % 9 === 0 ? [f('main+0x10')] : [f(`mid_${k % 4}+0x8`), f('main+0x10')];
      if (k % 5 === 0) path.unshift(f(`mid_${k % 4}+0x20`));
      table.set(k, [f('__mmap+0x13', 'libc.so.6'), f(`leaf_${k}+0x1c`), f(`sub_${k % 7}+0x8`), ...path]);
    }
    for (const seed of [3, 4, 5]) {
      const r = rng(seed);
      const procs = [1, 2].map((pid) => ({ pid, alive: true, map: new MemMap(), origins: new TagMap() }));
      for (let i = 0; i < 30; i++) randomEvent(r, procs[i % 2]!, 30);
      const live = new StackBytesSet();
      live.sync(procs);
      const { tree, layout } = liveGraph('all', table, live.all('resident'));
      const seen = { values: 0, structure: 0 };
      for (let step = 0; step < 250; step++) {
        const n = 1 + Math.floor(r() * 8);
        for (let i = 0; i < n; i++) randomEvent(r, procs[Math.floor(r() * 2)]!, step < 100 ? 30 : 60);
        const what = refreshLive(tree, layout, live.sync(procs), (id) => live.get(id, 'resident'));
        if (what !== 'none') seen[what]++;
        const scratch = buildFlame(bytesByStack(procs, 'resident'), table, null, 'all');
        // Values and stacks, frame by frame (a frame left with nothing stays,
        // zero wide).
        same(tree.root, scratch);
        expect(tree.frames).toBe(countFrames(tree.root));
        // The function list, kept by the same differences.
        expect(tree.top(5).map((x) => [x.name, x.value])).toEqual(topFrames(scratch, 5).map((x) => [x.name, x.value]));
        // Positions: the same as a full pass over the tree (in the kept order)...
        const got = layout.rows.map((row) => [Array.from(row.x), Array.from(row.w)]);
        layout.relayout(false);
        expect(got).toEqual(layout.rows.map((row) => [Array.from(row.x), Array.from(row.w)]));
        // ... and as the from-scratch tree placed in that order: every frame
        // drawn (not zero wide) where the scratch tree puts it.
        let drawn = 0;
        const place = (node: FlameNode, ref: FlameNode | undefined, x: number): void => {
          const d = node.depth!;
          const row = layout.rows[d]!;
          const w = row.w[node.index!]!;
          expect(row.nodes[node.index!]).toBe(node);
          if (!ref) {
            expect(w).toBe(0);
            return;
          }
          drawn++;
          expect([node.name, row.x[node.index!], w]).toEqual([ref.name, x, ref.value]);
          let cx = x;
          for (const k of node.sorted ?? []) {
            const rk = ref.children.get(k.name);
            place(k, rk && rk.value > 0 ? rk : undefined, cx);
            cx += rk?.value ?? 0;
          }
        };
        place(tree.root, scratch, 0);
        expect(drawn).toBe(countFrames(scratch));
        expect(layout.total).toBe(scratch.value);
        if (what === 'structure') {
          // Just re-sorted: the rows are those of a fresh layout, less the
          // zero-wide frames (sorted last).
          const fresh = new FlameLayout(buildFlame(bytesByStack(procs, 'resident'), table, null, 'all'), false);
          const rows = (l: FlameLayout): [string, number, number][][] => l.rows.map((row) => row.nodes.map((x, i): [string, number, number] => [x.name, row.x[i]!, row.w[i]!]).filter(([, , w]) => w > 0)).filter((row) => row.length > 0);
          expect(rows(layout)).toEqual(rows(fresh));
        }
      }
      expect(seen.values).toBeGreaterThan(50);
      expect(seen.structure).toBeGreaterThan(3);
      live.dispose();
    }
  });
});
