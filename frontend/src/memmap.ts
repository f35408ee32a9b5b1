/*
 * memmap — the memory-map model of one address space (TypeScript twin of
 * proto/memmap.h; both are checked against tests/vectors/*.json).
 *
 * A MemMap is an interval map from half-open ranges [start, end) to a page
 * state, kept as IntervalMap (intervalmap.ts: sorted, merged, chunked,
 * O(log n + k + MAX_CHUNK) per operation) plus what is particular to pages:
 * update() leaves holes unmapped, a remap's grown tail is not resident, and
 * rss (bytes in resident ranges), swap and vsz (bytes in all ranges) are kept
 * incrementally.
 *
 * Its only import is intervalmap.ts, which has none. Tools that load the model
 * through TypeScript's transpiler from a data: URL (tests/tools/fake-launcher.mjs)
 * must load that import the same way: a data: URL cannot resolve './intervalmap'.
 */

import { IntervalMap, IntervalMapError, type Flat } from './intervalmap';

export type PageState = 0 | 1 | 2 | 3;
export const NOT_RESIDENT: PageState = 0;
export const RESIDENT: PageState = 1;
export const UNTRACKED: PageState = 2;
/** The page is in swap (sampled mode only; protocol version 2). Not counted in rss. */
export const SWAPPED: PageState = 3;
export const STATE_NAMES = ['not_resident', 'resident', 'untracked', 'swapped'] as const;
export type StateName = (typeof STATE_NAMES)[number];

/** Returns the state's name, or null when the value is not a state. */
export function stateName(state: number): StateName | null {
  return isState(state) ? STATE_NAMES[state] : null;
}

/** Parses "resident" / "not_resident" / "untracked" / "swapped" (or a number) into a state. */
export function parseState(v: string | number): PageState | null {
  if (typeof v === 'number') return isState(v) ? v : null;
  const i = (STATE_NAMES as readonly string[]).indexOf(v);
  return i < 0 ? null : (i as PageState);
}

export function isState(v: number): v is PageState {
  return v === 0 || v === 1 || v === 2 || v === 3;
}

/** Thrown for the inputs the C model rejects with -EINVAL; the map is unchanged. */
export class MemMapError extends IntervalMapError {
  override readonly name = 'MemMapError';
}

/** One range, as returned by lookup() and toArray(). */
export type Range = [start: number, end: number, state: PageState];

export class MemMap extends IntervalMap<PageState> {
  private _rss = 0;
  private _swap = 0;
  private _vsz = 0;
  protected readonly grownTail = NOT_RESIDENT;

  /** Bytes in resident ranges. */
  get rss(): number {
    return this._rss;
  }

  /** Bytes in swapped ranges. */
  get swap(): number {
    return this._swap;
  }

  /** Bytes in all ranges. */
  get vsz(): number {
    return this._vsz;
  }

  /**
   * Builds a map from a flat, sorted array [start0, end0, state0, ...] as sent in
   * snapshots. Adjacent equal ranges are merged. Throws MemMapError when the
   * input is not sorted, overlaps, or holds an invalid range or state.
   */
  static fromFlat(flat: ArrayLike<number>): MemMap {
    if (flat.length % 3 !== 0) throw new MemMapError('flat range list length is not a multiple of 3');
    const m = new MemMap();
    m.loadFlat(flat, 3);
    return m;
  }

  /** Returns a deep copy (a forked process starts from its parent's map). */
  clone(): MemMap {
    const m = this.copyInto(new MemMap());
    m._rss = this._rss;
    m._swap = this._swap;
    m._vsz = this._vsz;
    return m;
  }

  /** Changes the state of the mapped parts of [start, end); holes stay holes. */
  update(start: number, end: number, state: number): void {
    this.setMapped(start, end, state);
  }

  override clear(): void {
    this._rss = 0;
    this._swap = 0;
    this._vsz = 0;
    super.clear();
  }

  /**
   * Fast iteration for hot loops (layout, rasterisation): calls fn once per
   * storage chunk holding ranges that intersect [start, end), with the
   * chunk's parallel arrays and the index bounds [from, to) of those ranges.
   * Ranges are not clipped. fn must not modify the arrays or the map.
   */
  forEachChunkIn(
    start: number,
    end: number,
    fn: (starts: readonly number[], ends: readonly number[], states: readonly PageState[], from: number, to: number) => void,
  ): void {
    let [ci, i] = this.findPos(start);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci]!;
      const n = c.s.length;
      if (i >= n) continue;
      if (c.s[i]! >= end) return;
      let to: number;
      if (c.s[n - 1]! < end) to = n;
      else {
        // Binary search for the first range starting at or after end.
        let lo = i;
        let hi = n;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (c.s[mid]! < end) lo = mid + 1;
          else hi = mid;
        }
        to = lo;
      }
      fn(c.s, c.e, c.v, i, to);
      if (to < n) return;
    }
  }

  /** The lowest start and highest end, or null for an empty map. */
  bounds(): [number, number] | null {
    if (this._count === 0) return null;
    const first = this.chunks[0]!;
    const last = this.chunks[this.chunks.length - 1]!;
    return [first.s[0]!, last.e[last.e.length - 1]!];
  }

  /** All ranges as a flat array, the snapshot wire layout. */
  toFlat(): number[] {
    const out: number[] = [];
    this.forEach((s, e, st) => {
      out.push(s, e, st);
    });
    return out;
  }

  /** Checks every structural invariant and the counters; for tests. Throws on the first violation. */
  override assertValid(): void {
    super.assertValid();
    let rss = 0;
    let swap = 0;
    let vsz = 0;
    this.forEach((s, e, st) => {
      vsz += e - s;
      if (st === RESIDENT) rss += e - s;
      if (st === SWAPPED) swap += e - s;
    });
    if (rss !== this._rss || swap !== this._swap || vsz !== this._vsz) {
      throw new Error(`counters drifted: rss ${this._rss}/${rss} swap ${this._swap}/${swap} vsz ${this._vsz}/${vsz}`);
    }
  }

  protected error(message: string): MemMapError {
    return new MemMapError(message);
  }

  protected checkValue(state: number): void {
    if (!isState(state)) throw new MemMapError(`invalid page state ${state}`);
  }

  protected override tally(flat: Flat, sign: 1 | -1): void {
    for (let k = 0; k < flat.length; k += 3) {
      const len = (flat[k + 1]! - flat[k]!) * sign;
      const st = flat[k + 2]!;
      this._vsz += len;
      if (st === RESIDENT) this._rss += len;
      else if (st === SWAPPED) this._swap += len;
    }
  }
}
