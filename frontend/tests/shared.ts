// Locates the shared test material in <repo>/tests/vectors (written by the C side).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const sharedVectorsDir = join(repoRoot, 'tests', 'vectors');
export const sharedWireDir = join(sharedVectorsDir, 'wire');
export const fixturesDir = join(here, 'fixtures');

export interface VectorFile {
  file: string;
  vectors: MemmapVector[];
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

/** Every *.json directly in dir that holds a "vectors" array. */
export function loadVectorFiles(dir: string): VectorFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as { vectors?: MemmapVector[] } }))
    .filter((x) => Array.isArray(x.data.vectors))
    .map((x) => ({ file: x.file, vectors: x.data.vectors! }));
}
