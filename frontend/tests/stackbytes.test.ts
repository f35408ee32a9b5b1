import { describe, expect, it } from 'vitest';
import { MemMap, RESIDENT } from '../src/memmap';
import { TagMap } from '../src/tagmap';
import { bytesByStack } from '../src/flame';
import { StackBytes, StackBytesSet, type StackProcess } from '../src/stackbytes';
import { randomEvent, rng } from './shared';

const P = 4096;

const sorted = (m: ReadonlyMap<number, number>): [number, number][] => [...m.entries()].sort((a, b) => a[0] - b[0]);

describe('stackbytes', () => {
  it('equals a walk of the maps after every change', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const p = { pid: 1, alive: true, map: new MemMap(), origins: new TagMap() };
      // Start from a map with content, then follow it.
      for (let i = 0; i < 40; i++) randomEvent(r, p, 12);
      const b = new StackBytes(p.map, p.origins);
      for (let i = 0; i < 600; i++) {
        const resident = new Map(b.resident);
        const mapped = new Map(b.mapped);
        randomEvent(r, p, 12);
        expect(sorted(b.resident)).toEqual(sorted(bytesByStack([p], 'resident')));
        expect(sorted(b.mapped)).toEqual(sorted(bytesByStack([p], 'mapped')));
        // Every stack whose bytes changed is reported.
        const dirty = new Set<number>();
        b.takeDirty(dirty);
        for (const id of new Set([...resident.keys(), ...mapped.keys(), ...b.resident.keys(), ...b.mapped.keys()])) {
          if (resident.get(id) !== b.resident.get(id) || mapped.get(id) !== b.mapped.get(id)) expect(dirty.has(id)).toBe(true);
        }
      }
      // Disposed, it no longer follows the maps.
      b.dispose();
      const before = sorted(b.mapped);
      p.map.set(300 * P, 310 * P, RESIDENT);
      p.origins.set(300 * P, 310 * P, 1);
      expect(sorted(b.mapped)).toEqual(before);
    }
  });

  it('follows processes that come, go, fork and exec', () => {
    const r = rng(99);
    const procs: (StackProcess & { alive: boolean })[] = [1, 2, 3].map((pid) => ({ pid, alive: true, map: new MemMap(), origins: new TagMap() }));
    const set = new StackBytesSet();
    let shown = procs.slice();
    set.sync(shown);
    for (let step = 0; step < 300; step++) {
      // What the set gave at the last sync (nothing changed since).
      const last = set.all('resident');
      const lastMapped = set.all('mapped');
      for (let i = 0; i < 1 + Math.floor(r() * 6); i++) randomEvent(r, procs[Math.floor(r() * procs.length)]!, 20);
      const k = r();
      if (k < 0.05) {
        // A fork: the child's maps are new objects, copies of the parent's.
        const child = procs[2]!;
        child.map = procs[0]!.map.clone();
        child.origins = procs[0]!.origins.clone();
      } else if (k < 0.15) shown = procs.filter(() => r() < 0.7);
      const changed = set.sync(shown);
      const resident = set.all('resident');
      const mapped = set.all('mapped');
      expect(sorted(resident)).toEqual(sorted(bytesByStack(shown, 'resident')));
      expect(sorted(mapped)).toEqual(sorted(bytesByStack(shown, 'mapped')));
      for (const id of new Set([...last.keys(), ...lastMapped.keys(), ...resident.keys(), ...mapped.keys()])) {
        expect(set.get(id, 'resident')).toBe(resident.get(id) ?? 0);
        if (last.get(id) !== resident.get(id) || lastMapped.get(id) !== mapped.get(id)) expect(changed.has(id)).toBe(true);
      }
    }
    set.dispose();
    expect(sorted(set.all('mapped'))).toEqual([]);
  });
});
