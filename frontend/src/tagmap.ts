/*
 * tagmap — an annotation map (TypeScript twin of proto/tagmap.h; both run
 * tests/vectors/tagmap/*.json): an interval map from half-open ranges
 * [start, end) to a uint32 value, for the per-process vma, origin and touch
 * maps of protocol version 2 (proto/PROTOCOL.md section 3).
 *
 * Ranges never overlap, are kept sorted, and adjacent ranges of equal value
 * are merged, so a map has exactly one representation. Operations:
 *   set     [start, end) takes the value, replacing what was there;
 *   remove  [start, end) loses its value (unmap);
 *   remap   mremap: the values of the first min(old, new) bytes of
 *           [fromStart, fromEnd) move to toStart, replacing [toStart, toEnd);
 *           a grown tail gets NO value, a shrunk tail is dropped;
 *   clear   (exec, resume); clone (fork).
 *
 * Storage is MemMap's, shared in intervalmap.ts: chunks of up to MAX_CHUNK
 * ranges in parallel arrays, binary search to the place, rewrite only what is
 * touched: O(log n + k + MAX_CHUNK) per operation. A touch map in exact mode
 * can be as fragmented as the page map itself (threads taking turns), so this
 * matters.
 *
 * Renderers walk a TagMap alongside the MemMap (forEachIn from the window's
 * start), never look it up once per range: O(n + m), not O(n * m).
 *
 * Its only import is intervalmap.ts, which has none (see memmap.ts on tools
 * that load the model with TypeScript's transpiler).
 */

import { IntervalMap, IntervalMapError } from './intervalmap';

/** Thrown for the inputs the C model rejects with -EINVAL; the map is unchanged. */
export class TagMapError extends IntervalMapError {
  override readonly name = 'TagMapError';
}

/** One annotated range. */
export type TagRange = [start: number, end: number, value: number];

export class TagMap extends IntervalMap<number> {
  /** A remap's grown tail gets no value. */
  protected readonly grownTail = -1;

  /**
   * Builds a map from a flat sorted list [start0, end0, value0, ...] (the
   * snapshot layout of origins and touches) of `stride` numbers a range.
   * Neighbours of equal value merge. Throws TagMapError on overlap,
   * disorder, bad ranges or values.
   */
  static fromFlat(flat: ArrayLike<number>, stride = 3): TagMap {
    if (flat.length % stride !== 0) throw new TagMapError(`flat list length is not a multiple of ${stride}`);
    const m = new TagMap();
    m.loadFlat(flat, stride);
    return m;
  }

  /** A deep copy (a forked child starts with its parent's annotations). */
  clone(): TagMap {
    return this.copyInto(new TagMap());
  }

  /** Removes everything (a no-op, version included, on an empty map). */
  override clear(): void {
    if (this._count !== 0) super.clear();
  }

  /** The value at addr, or undefined. */
  get(addr: number): number | undefined {
    const r = this.lookup(addr);
    return r ? r[2] : undefined;
  }

  protected error(message: string): TagMapError {
    return new TagMapError(message);
  }

  protected checkValue(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TagMapError(`value ${v} is not a uint32`);
  }
}
