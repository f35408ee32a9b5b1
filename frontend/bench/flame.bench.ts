/*
 * Flame graph benchmarks (not tests): building the tree of 20,000 call
 * stacks (5 frames each, 42,000 frames) from one process's map and origins,
 * laying it out for the chart, the function list, and a live refresh after
 * 200 ranges flipped (what tests/frontend/flame_bench.mjs's launcher does
 * every 50 ms): by a walk of the map as before, and by the maps' own changes
 * (StackBytesSet, FlameTree.set, FlameLayout.relayoutChanged) as the panel
 * does now. Run with `npm run bench:model` (vitest bench). The in-browser
 * figures (with the canvas) come from tests/frontend/flame_bench.mjs.
 */
import { bench, describe } from 'vitest';
import { MemMap, NOT_RESIDENT, RESIDENT } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { buildFlame, bytesByStack, FlameLayout, FlameTree, liveGraph, refreshLive, topFrames } from '../src/flame';
import { StackBytesSet } from '../src/stackbytes';
import type { Frame } from '../src/protocol';

const N = 20_000;
const R = 65536;
const A = 0x7f0000000000;
const flat: number[] = [];
const origins = new TagMap();
const stacks = new Map<number, Frame[]>();
for (let k = 0; k < N; k++) {
  const s = A + k * R;
  flat.push(s, s + R / 2, RESIDENT, s + R / 2, s + R, NOT_RESIDENT);
  origins.set(s, s + R, k + 1);
  stacks.set(k + 1, [
    { pc: 1, func: '__mmap+0x13', module: 'libc.so.6', source: null },
    { pc: 2, func: `leaf_${k}+0x1c`, module: 'bench', source: null },
    { pc: 3, func: `sub_${k % 2000}+0x8`, module: 'bench', source: null },
    { pc: 4, func: `mid_${k % 200}+0x8`, module: 'bench', source: null },
    { pc: 5, func: 'main+0x10', module: 'bench', source: null },
  ]);
}
const map = MemMap.fromFlat(flat);
const procs = [{ pid: 1, alive: true, map, origins }];
const bytes = bytesByStack(procs, 'resident');
const root = buildFlame(bytes, stacks);

describe('flame graph, 20,000 stacks', () => {
  bench('bytes by stack (callSites walk)', () => {
    bytesByStack(procs, 'resident');
  });
  bench('build the tree', () => {
    buildFlame(bytes, stacks);
  });
  bench('lay it out for the chart', () => {
    new FlameLayout(root, false);
  });
  const live = new FlameTree('all', stacks);
  live.update(bytes);
  const liveLayout = new FlameLayout(live.root, false);
  let flip = 0;
  bench('live update: 200 stacks changed, tree by differences + layout in place', () => {
    const next = new Map(bytes);
    for (let j = 0; j < 200; j++) {
      const id = 1 + ((flip * 7919 + j * 104729) % N);
      next.set(id, flip % 2 ? R / 2 : R / 4);
    }
    flip++;
    live.update(next);
    liveLayout.relayout(false);
  });
  // 200 ranges flipped in the map (resident half <-> not resident), as the
  // browser bench's launcher does: round r flips the same ranges it does.
  let round = 0;
  const flipRanges = (m: MemMap): void => {
    for (let j = 0; j < 200; j++) {
      const k = (round * 7919 + j * 104729) % N;
      const s = A + k * R;
      m.update(s, s + R / 2, round % 2 ? RESIDENT : NOT_RESIDENT);
    }
    round++;
  };
  const walkMap = MemMap.fromFlat(flat);
  const walkProcs = [{ pid: 1, alive: true, map: walkMap, origins }];
  const walkTree = new FlameTree('all', stacks);
  walkTree.update(bytesByStack(walkProcs, 'resident'));
  const walkLayout = new FlameLayout(walkTree.root, false);
  bench('live refresh by a walk: 200 ranges flipped, bytes by stack + tree + layout in place (before)', () => {
    flipRanges(walkMap);
    walkTree.update(bytesByStack(walkProcs, 'resident'));
    walkLayout.relayout(false);
  });
  const diffMap = MemMap.fromFlat(flat);
  const diffProcs = [{ pid: 1, alive: true, map: diffMap, origins }];
  const diffBytes = new StackBytesSet();
  diffBytes.sync(diffProcs);
  const { tree: diffTree, layout: diffLayout } = liveGraph('all', stacks, diffBytes.all('resident'));
  bench('live refresh by differences: 200 ranges flipped, bytes from the map changes + tree + relayoutChanged', () => {
    flipRanges(diffMap);
    refreshLive(diffTree, diffLayout, diffBytes.sync(diffProcs), (id) => diffBytes.get(id, 'resident'));
  });
  bench('the 200 flips alone, with the map watched (the store pays this)', () => {
    flipRanges(diffMap);
    diffBytes.sync(diffProcs);
  });
  bench('the 200 flips alone, map not watched', () => {
    flipRanges(walkMap);
  });
  bench('function list (top 200)', () => {
    topFrames(root, 200);
  });
  bench('all of it (what a refresh costs)', () => {
    const r = buildFlame(bytesByStack(procs, 'resident'), stacks);
    new FlameLayout(r, false);
    topFrames(r, 200);
  });
});
