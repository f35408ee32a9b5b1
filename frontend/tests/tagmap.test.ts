import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TagMap, TagMapError } from '../src/tagmap';
import { applyVectorOp, loadVectorFiles, rng, sharedVectorsDir, type TagVector } from './shared';

function run(v: TagVector): void {
  const m = new TagMap();
  for (const [s, e, val] of v.initial) m.set(s, e, val);
  m.assertValid();
  for (const op of v.ops) {
    applyVectorOp(m, op);
    m.assertValid();
  }
  expect(m.toArray()).toEqual(v.expected);
  expect(m.count).toBe(v.expected.length);
}

const shared = loadVectorFiles<TagVector>(join(sharedVectorsDir, 'tagmap'));

describe('tagmap: shared vectors (tests/vectors/tagmap, also run by the C model)', () => {
  it('finds the shared vector files', () => expect(shared.length).toBeGreaterThan(5));
  for (const f of shared) for (const v of f.vectors) it(`${f.file}: ${v.name}`, () => run(v));
});

describe('tagmap: differential test against a page-level model', () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`random ops, seed ${seed}`, () => {
      const r = rng(seed);
      const P = 4096;
      const space = seed % 2 ? 500 : 4000;
      const m = new TagMap();
      const ref = new Map<number, number>();
      const int = (n: number): number => Math.floor(r() * n);
      for (let i = 0; i < 3000; i++) {
        const a = int(space);
        const b = a + 1 + int(r() < 0.8 ? 8 : 150);
        const k = r();
        if (k < 0.55) {
          const v = int(4);
          m.set(a * P, b * P, v);
          for (let p = a; p < b; p++) ref.set(p, v);
        } else if (k < 0.75) {
          m.remove(a * P, b * P);
          for (let p = a; p < b; p++) ref.delete(p);
        } else if (k < 0.997) {
          const t = int(space);
          const nl = 1 + int(r() < 0.5 ? b - a : 100);
          m.remap(a * P, b * P, t * P, (t + nl) * P);
          const keep = Math.min(b - a, nl);
          const moved: [number, number][] = [];
          for (let q = 0; q < keep; q++) {
            const v = ref.get(a + q);
            if (v !== undefined) moved.push([t + q, v]);
          }
          for (let p = a; p < b; p++) ref.delete(p);
          for (let p = t; p < t + nl; p++) ref.delete(p);
          for (const [p, v] of moved) ref.set(p, v);
        } else {
          m.clear();
          ref.clear();
        }
        if (i % 101 === 0) m.assertValid();
      }
      m.assertValid();
      const exp: [number, number, number][] = [];
      for (const p of [...ref.keys()].sort((x, y) => x - y)) {
        const v = ref.get(p)!;
        const last = exp[exp.length - 1];
        if (last && last[1] === p * P && last[2] === v) last[1] = (p + 1) * P;
        else exp.push([p * P, (p + 1) * P, v]);
      }
      expect(m.toArray()).toEqual(exp);
    });
  }
});

describe('tagmap: structure', () => {
  it('clone is deep; lookup and get', () => {
    const m = new TagMap();
    m.set(0, 8192, 5);
    const c = m.clone();
    c.set(8192, 16384, 5);
    expect(m.toArray()).toEqual([[0, 8192, 5]]);
    expect(c.toArray()).toEqual([[0, 16384, 5]]);
    expect(c.get(12288)).toBe(5);
    expect(m.get(12288)).toBeUndefined();
    expect(m.lookup(4096)).toEqual([0, 8192, 5]);
  });

  it('fromFlat merges, validates, and takes a stride', () => {
    expect(TagMap.fromFlat([0, 4096, 1, 4096, 8192, 1]).toArray()).toEqual([[0, 8192, 1]]);
    expect(() => TagMap.fromFlat([0, 8192, 1, 4096, 12288, 2])).toThrow(TagMapError);
    expect(() => TagMap.fromFlat([0, 4096, -1])).toThrow(TagMapError);
    expect(() => TagMap.fromFlat([0, 4096, 2 ** 32])).toThrow(TagMapError);
    expect(TagMap.fromFlat([0, 4096, 1, 9, 4096, 8192, 2, 9], 4).toArray()).toEqual([
      [0, 4096, 1],
      [4096, 8192, 2],
    ]);
  });

  it('holds 200k ranges across chunks and moves them', () => {
    const P = 4096;
    const flat: number[] = [];
    for (let i = 0; i < 200_000; i++) flat.push(i * P, (i + 1) * P, i % 3);
    const m = TagMap.fromFlat(flat);
    expect(m.count).toBe(200_000);
    m.remap(0, 200_000 * P, 400_000 * P, 600_000 * P);
    m.assertValid();
    expect(m.count).toBe(200_000);
    expect(m.get(400_001 * P)).toBe(1);
    m.set(0, 1e6 * P, 7);
    expect(m.count).toBe(1);
  });
});
