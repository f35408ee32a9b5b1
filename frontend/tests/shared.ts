// Locates the shared test material in <repo>/tests/vectors (written by the C side),
// loads vector files, and gives the tests one seeded PRNG and random process events.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MemMap, NOT_RESIDENT, RESIDENT, SWAPPED, UNTRACKED } from '../src/memmap';
import type { TagMap } from '../src/tagmap';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const sharedVectorsDir = join(repoRoot, 'tests', 'vectors');
export const sharedWireDir = join(sharedVectorsDir, 'wire');
export const fixturesDir = join(here, 'fixtures');

export interface VectorFile<V = MemmapVector> {
  file: string;
  vectors: V[];
}

export type StateField = string | number;
export type VectorRange = [number, number, StateField];

export type VectorOp =
  | { op: 'set' | 'update'; start: number; end: number; state: StateField; error?: string }
  | { op: 'remove'; start: number; end: number; error?: string }
  | { op: 'remap'; from_start: number; from_end: number; to_start: number; to_end: number; error?: string }
  | { op: 'clear'; error?: string };

export interface MemmapVector {
  name: string;
  description?: string;
  initial: VectorRange[];
  ops: VectorOp[];
  expected: VectorRange[];
  rss: number;
  vsz: number;
}

/** An op of a tagmap vector (tests/vectors/tagmap/*.json). */
export type TagVectorOp =
  | { op: 'set'; start: number; end: number; value: number }
  | { op: 'remove'; start: number; end: number }
  | { op: 'remap'; from_start: number; from_end: number; to_start: number; to_end: number }
  | { op: 'clear' };

export interface TagVector {
  name: string;
  description?: string;
  initial: [number, number, number][];
  ops: TagVectorOp[];
  expected: [number, number, number][];
}

/** What a vector op is applied to: a MemMap or a TagMap. */
export interface VectorTarget {
  set(start: number, end: number, value: number): void;
  update?(start: number, end: number, value: number): void;
  remove(start: number, end: number): void;
  remap(fromStart: number, fromEnd: number, toStart: number, toEnd: number): void;
  clear(): void;
}

/** Applies a memmap or tagmap vector op to m; `value` reads a set or update op's state (or value). */
export function applyVectorOp(m: VectorTarget, op: VectorOp | TagVectorOp, value: (v: StateField) => number = Number): void {
  switch (op.op) {
    case 'set':
      return m.set(op.start, op.end, value('state' in op ? op.state : op.value));
    case 'update':
      if (!m.update) throw new Error('an update op on a map without update');
      return m.update(op.start, op.end, value(op.state));
    case 'remove':
      return m.remove(op.start, op.end);
    case 'remap':
      return m.remap(op.from_start, op.from_end, op.to_start, op.to_end);
    case 'clear':
      return m.clear();
  }
}

/** Every *.json directly in dir that holds a "vectors" array (memmap vectors unless told otherwise). */
export function loadVectorFiles<V = MemmapVector>(dir: string): VectorFile<V>[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as { vectors?: V[] } }))
    .filter((x) => Array.isArray(x.data.vectors))
    .map((x) => ({ file: x.file, vectors: x.data.vectors! }));
}

/** Small deterministic PRNG (mulberry32) so failures reproduce: uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATES = [NOT_RESIDENT, RESIDENT, SWAPPED, UNTRACKED];

/**
 * One random change of a process's maps, as the store applies the wire's
 * events (map, state, unmap, origin, remap, exec), over 256 pages of 4 KiB
 * and stack ids 1..`stacks`.
 */
export function randomEvent(r: () => number, p: { map: MemMap; origins: TagMap }, stacks: number): void {
  const page = (): number => Math.floor(r() * 256);
  const a = page();
  const s = a * 4096;
  const e = (a + 1 + Math.floor(r() * 16)) * 4096;
  const k = r();
  const state = STATES[Math.floor(r() * STATES.length)]!;
  const stack = 1 + Math.floor(r() * stacks);
  if (k < 0.35) p.map.update(s, e, state);
  else if (k < 0.5) {
    // An mmap and the stack that made it.
    p.map.set(s, e, state);
    p.origins.set(s, e, stack);
  } else if (k < 0.6) p.map.set(s, e, state);
  else if (k < 0.7) {
    p.map.remove(s, e);
    p.origins.remove(s, e);
  } else if (k < 0.85) p.origins.set(s, e, stack);
  else if (k < 0.97) {
    const t = page() * 4096;
    const len = (1 + Math.floor(r() * 16)) * 4096;
    p.map.remap(s, e, t, t + len);
    p.origins.remap(s, e, t, t + len);
  } else {
    p.map.clear();
    p.origins.clear();
  }
}
