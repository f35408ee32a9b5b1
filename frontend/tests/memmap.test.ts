import { describe, expect, it } from 'vitest';
import { MemMap, MemMapError, NOT_RESIDENT, RESIDENT, UNTRACKED, parseState, type PageState } from '../src/memmap';
import { applyVectorOp, fixturesDir, loadVectorFiles, rng, sharedVectorsDir, type MemmapVector, type StateField, type VectorOp } from './shared';

function st(v: StateField): PageState {
  const s = parseState(v);
  if (s === null) throw new Error(`bad state in vector: ${String(v)}`);
  return s;
}

function applyOp(m: MemMap, op: VectorOp): void {
  applyVectorOp(m, op, st);
}

function runVector(v: MemmapVector): void {
  const m = new MemMap();
  for (const [s, e, state] of v.initial) m.set(s, e, st(state));
  m.assertValid();
  v.ops.forEach((op, i) => {
    const before = m.toArray();
    if (op.error) {
      expect(() => applyOp(m, op), `op ${i} must fail with ${op.error}`).toThrow(MemMapError);
      try {
        applyOp(m, op);
      } catch (err) {
        expect((err as MemMapError).code).toBe(op.error);
      }
      expect(m.toArray(), `op ${i} rejected: map unchanged`).toEqual(before);
    } else {
      applyOp(m, op);
    }
    m.assertValid();
  });
  expect(m.toArray()).toEqual(v.expected.map(([s, e, state]) => [s, e, st(state)]));
  expect(m.rss).toBe(v.rss);
  expect(m.vsz).toBe(v.vsz);
  expect(m.count).toBe(v.expected.length);
}

const own = loadVectorFiles(fixturesDir);
const shared = loadVectorFiles(sharedVectorsDir);

describe('memmap: own vectors (frontend/tests/fixtures)', () => {
  for (const f of own) for (const v of f.vectors) it(`${f.file}: ${v.name}`, () => runVector(v));
});

describe('memmap: shared vectors (tests/vectors, also run by the C model)', () => {
  if (shared.length === 0) {
    it.skip('tests/vectors/*.json not present yet: the C side has not written them', () => undefined);
  }
  for (const f of shared) for (const v of f.vectors) it(`${f.file}: ${v.name}`, () => runVector(v));
});

/** Page-granular reference model: obviously right, too slow for real use. */
class PageModel {
  pages = new Map<number, PageState>();
  set(s: number, e: number, state: PageState): void {
    for (let p = s; p < e; p++) this.pages.set(p, state);
  }
  update(s: number, e: number, state: PageState): void {
    for (let p = s; p < e; p++) if (this.pages.has(p)) this.pages.set(p, state);
  }
  remove(s: number, e: number): void {
    for (let p = s; p < e; p++) this.pages.delete(p);
  }
  remap(fs: number, fe: number, ts: number, te: number): void {
    const keep = Math.min(fe - fs, te - ts);
    const moved: [number, PageState][] = [];
    for (let k = 0; k < keep; k++) {
      const v = this.pages.get(fs + k);
      if (v !== undefined) moved.push([ts + k, v]);
    }
    this.remove(fs, fe);
    this.remove(ts, te);
    for (const [p, v] of moved) this.pages.set(p, v);
    for (let p = ts + keep; p < te; p++) this.pages.set(p, NOT_RESIDENT);
  }
  ranges(): [number, number, PageState][] {
    const keys = [...this.pages.keys()].sort((a, b) => a - b);
    const out: [number, number, PageState][] = [];
    for (const p of keys) {
      const v = this.pages.get(p)!;
      const last = out[out.length - 1];
      if (last && last[1] === p && last[2] === v) last[1] = p + 1;
      else out.push([p, p + 1, v]);
    }
    return out;
  }
}

describe('memmap: differential test against a page-level model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random ops, seed ${seed}`, () => {
      const r = rng(seed);
      const P = 4096;
      const space = seed % 2 ? 600 : 5000; // small space: dense collisions; larger: many ranges
      const m = new MemMap();
      const ref = new PageModel();
      const int = (n: number) => Math.floor(r() * n);
      const states: PageState[] = [NOT_RESIDENT, RESIDENT, UNTRACKED];
      for (let i = 0; i < 3000; i++) {
        const a = int(space);
        const len = 1 + int(r() < 0.8 ? 8 : 200);
        const b = Math.min(space + 1, a + len);
        const s = states[int(3)]!;
        const k = r();
        if (k < 0.35) {
          m.set(a * P, b * P, s);
          ref.set(a, b, s);
        } else if (k < 0.75) {
          m.update(a * P, b * P, s);
          ref.update(a, b, s);
        } else if (k < 0.88) {
          m.remove(a * P, b * P);
          ref.remove(a, b);
        } else if (k < 0.995) {
          const t = int(space);
          const nl = 1 + int(r() < 0.5 ? len : 100);
          m.remap(a * P, b * P, t * P, (t + nl) * P);
          ref.remap(a, b, t, t + nl);
        } else {
          m.clear();
          ref.pages.clear();
        }
        if (i % 97 === 0) m.assertValid();
      }
      m.assertValid();
      const expected = ref.ranges().map(([a, b, s]) => [a * P, b * P, s]);
      expect(m.toArray()).toEqual(expected);
      let rss = 0;
      for (const v of ref.pages.values()) if (v === RESIDENT) rss += P;
      expect(m.rss).toBe(rss);
      expect(m.vsz).toBe(ref.pages.size * P);
    });
  }
});

describe('memmap: structure', () => {
  it('handles 200k alternating ranges across chunks, lookups and remaps', () => {
    const P = 4096;
    const n = 200_000;
    const flat: number[] = [];
    for (let i = 0; i < n; i++) flat.push(i * P, (i + 1) * P, i % 2 ? RESIDENT : NOT_RESIDENT);
    const m = MemMap.fromFlat(flat);
    expect(m.count).toBe(n);
    expect(m.rss).toBe((n / 2) * P);
    m.assertValid();
    expect(m.lookup(12345 * P + 17)).toEqual([12345 * P, 12346 * P, RESIDENT]);
    // Page in everything: collapses to one range.
    m.update(0, n * P, RESIDENT);
    expect(m.count).toBe(1);
    m.assertValid();
    // Move a big striped region with more ranges than a function call takes arguments.
    const m2 = MemMap.fromFlat(flat);
    m2.remap(0, n * P, 2 * n * P, 3 * n * P);
    m2.assertValid();
    expect(m2.count).toBe(n);
    expect(m2.bounds()).toEqual([2 * n * P, 3 * n * P]);
  });

  it('watch reports every change: replaying the reports on a copy gives the map', () => {
    const P = 4096;
    const r = rng(11);
    const m = new MemMap();
    let copy: [number, number, number][] = [];
    let calls = 0;
    const stop = m.watch((old, now) => {
      calls++;
      // The ranges that left are in the copy, and nothing else lies within
      // the extent of both lists; the new ones take their place.
      const lo = Math.min(old[0] ?? Infinity, now[0] ?? Infinity);
      const hi = Math.max(old[old.length - 2] ?? -Infinity, now[now.length - 2] ?? -Infinity);
      const inside = copy.filter(([s, e]) => s < hi && e > lo);
      const left: [number, number, number][] = [];
      for (let k = 0; k < old.length; k += 3) left.push([old[k]!, old[k + 1]!, old[k + 2]!]);
      expect(inside).toEqual(left);
      copy = copy.filter(([s, e]) => !(s < hi && e > lo));
      for (let k = 0; k < now.length; k += 3) copy.push([now[k]!, now[k + 1]!, now[k + 2]!]);
      copy.sort((a, b) => a[0] - b[0]);
    });
    for (let i = 0; i < 3000; i++) {
      const a = Math.floor(r() * 512) * P;
      const b = a + (1 + Math.floor(r() * 32)) * P;
      const k = r();
      if (k < 0.3) m.set(a, b, Math.floor(r() * 4));
      else if (k < 0.6) m.update(a, b, Math.floor(r() * 4));
      else if (k < 0.8) m.remove(a, b);
      else if (k < 0.99) {
        const t = Math.floor(r() * 512) * P;
        m.remap(a, b, t, t + (1 + Math.floor(r() * 32)) * P);
      } else m.clear();
      expect(copy).toEqual(m.toArray());
    }
    expect(calls).toBeGreaterThan(1000);
    // A clone starts without listeners; stop() stops the calls.
    const c0 = calls;
    m.clone().set(600 * P, 601 * P, RESIDENT);
    expect(calls).toBe(c0);
    stop();
    m.set(600 * P, 601 * P, RESIDENT);
    expect(calls).toBe(c0);
  });

  it('clone is deep', () => {
    const m = new MemMap();
    m.set(0, 8192, RESIDENT);
    const c = m.clone();
    c.set(8192, 16384, RESIDENT);
    expect(m.toArray()).toEqual([[0, 8192, RESIDENT]]);
    expect(c.toArray()).toEqual([[0, 16384, RESIDENT]]);
    c.assertValid();
  });

  it('fromFlat merges neighbours and rejects overlap or bad states', () => {
    expect(MemMap.fromFlat([0, 4096, 1, 4096, 8192, 1]).toArray()).toEqual([[0, 8192, 1]]);
    expect(() => MemMap.fromFlat([0, 8192, 1, 4096, 12288, 0])).toThrow(MemMapError);
    expect(() => MemMap.fromFlat([0, 4096, 7])).toThrow(MemMapError);
    expect(() => MemMap.fromFlat([0, 4096])).toThrow(MemMapError);
  });

  it('forEachIn clips and lookup misses holes', () => {
    const m = MemMap.fromFlat([0, 4 * 4096, 1, 8 * 4096, 12 * 4096, 0]);
    const seen: number[][] = [];
    m.forEachIn(2 * 4096, 10 * 4096, (s, e, x) => {
      seen.push([s, e, x]);
    });
    expect(seen).toEqual([
      [2 * 4096, 4 * 4096, 1],
      [8 * 4096, 10 * 4096, 0],
    ]);
    expect(m.lookup(5 * 4096)).toBeNull();
    expect(m.lookup(12 * 4096)).toBeNull();
  });

  it('exact with addresses near 2^56', () => {
    const top = 2 ** 56;
    const m = new MemMap();
    m.set(top - 8 * 4096, top, NOT_RESIDENT);
    m.update(top - 4096, top, RESIDENT);
    expect(m.rss).toBe(4096);
    expect(m.vsz).toBe(8 * 4096);
    expect(m.toArray()).toEqual([
      [top - 8 * 4096, top - 4096, NOT_RESIDENT],
      [top - 4096, top, RESIDENT],
    ]);
  });
});
