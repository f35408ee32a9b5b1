/*
 * intervalmap — the storage both maps of the model share: an interval map
 * from half-open ranges [start, end) to a small integer value. MemMap
 * (memmap.ts, values are page states) and TagMap (tagmap.ts, values are
 * uint32 annotations) are thin layers over it; what differs between them is
 * the value check and its error class, what a remap gives a grown tail, and
 * MemMap's byte counters (kept through the tally() hook).
 *
 * Ranges never overlap, are kept sorted, and adjacent ranges of equal value
 * are always merged, so a given map has exactly one representation.
 *
 * Addresses are JavaScript numbers. Page-aligned addresses below 2^56 (all the
 * wire allows) have at most 44 significant bits and are therefore exact
 * doubles, and so are their differences and sums.
 *
 * Storage is a list of chunks, each holding up to MAX_CHUNK ranges in three
 * parallel arrays. An operation finds its place by binary search over the
 * chunks and then within one chunk, and rewrites only the ranges it touches:
 * O(log n + k + MAX_CHUNK), which keeps 200,000-range maps cheap to mutate
 * (see tests/frontend/bench.mjs and bench/model.bench.ts for measured numbers).
 *
 * watch() hands a listener each change as it happens (the ranges that left,
 * the ranges that came): what lets a view keep a sum over the map by
 * differences (stackbytes.ts) instead of walking it again.
 *
 * No imports on purpose: tools load the model files with TypeScript's
 * transpiler (see memmap.ts).
 */

/** What the maps throw for the inputs the C models reject with -EINVAL; the map is unchanged. */
export class IntervalMapError extends Error {
  readonly code = 'EINVAL';
}

const MAX_CHUNK = 512;
const MIN_CHUNK = 64;

interface Chunk<V extends number> {
  s: number[]; // starts
  e: number[]; // ends
  v: V[]; // values
}

/** Flat list of ranges [s0, e0, v0, s1, e1, v1, ...] used while rewriting. */
export type Flat = number[];

/**
 * What watch() calls after every change of a map: `old` are the ranges that
 * left it, `now` the ranges that took their place (flat, sorted; both may
 * hold unchanged neighbours a merge touched). Inside the extent of both
 * lists the map holds nothing else, before or after. The lists belong to
 * the map and are valid during the call only; a listener must not change
 * the map.
 */
export type ChangeListener = (old: readonly number[], now: readonly number[]) => void;

/** Appends [s, e, v] to out, merging it with the last range when they touch with equal value. */
function pushMerged(out: Flat, s: number, e: number, v: number): void {
  const n = out.length;
  if (n >= 3 && out[n - 2] === s && out[n - 1] === v) out[n - 2] = e;
  else out.push(s, e, v);
}

/** What rewrite() puts in place of [start, end): */
type Fill = 0 | 1 | 2 | 3;
/** nothing: the range becomes a hole; */
const FILL_NOTHING = 0;
/** one range [start, end) of the given value; */
const FILL_VALUE = 1;
/** the mapped parts of [start, end) take the given value, holes stay holes; */
const FILL_MAPPED = 2;
/** the given flat list (sorted, inside [start, end)). */
const FILL_LIST = 3;

export abstract class IntervalMap<V extends number> {
  protected chunks: Chunk<V>[] = [];
  protected _count = 0;
  /** Incremented by every mutation; lets views cache what they derive from the map. */
  version = 0;
  /** See watch(). */
  private listeners: ChangeListener[] = [];

  /** The value a remap gives the grown tail of a range, or -1 for none. */
  protected abstract readonly grownTail: V | -1;
  /** The error the map throws for a rejected input (the map is then unchanged). */
  protected abstract error(message: string): IntervalMapError;
  /** Throws this.error(...) when v is not a value of this map. */
  protected abstract checkValue(v: number): void;
  /** Called with the ranges leaving the map (sign -1) and entering it (sign 1). */
  protected tally(_flat: Flat, _sign: 1 | -1): void {}

  /** Number of ranges (after merging). */
  get count(): number {
    return this._count;
  }

  /** Sets [start, end) to value, replacing whatever was there. */
  set(start: number, end: number, value: number): void {
    this.checkRange(start, end);
    this.checkValue(value);
    this.rewrite(start, end, FILL_VALUE, value, null);
  }

  /** Removes [start, end). Removing nothing is fine. */
  remove(start: number, end: number): void {
    this.checkRange(start, end);
    this.rewrite(start, end, FILL_NOTHING, 0, null);
  }

  /**
   * mremap: the contents of [fromStart, fromEnd) (holes included) move to
   * toStart, replacing everything in [toStart, toEnd). The first
   * min(old, new) bytes keep their values; a grown tail gets grownTail
   * (MemMap: not resident; TagMap: no value); a shrunk tail is dropped. The
   * two ranges may overlap.
   */
  remap(fromStart: number, fromEnd: number, toStart: number, toEnd: number): void {
    this.checkRange(fromStart, fromEnd);
    this.checkRange(toStart, toEnd);
    const oldLen = fromEnd - fromStart;
    const keep = Math.min(oldLen, toEnd - toStart);
    const moved: Flat = [];
    this.forEachIn(fromStart, fromStart + keep, (s, e, v) => {
      moved.push(s - fromStart + toStart, e - fromStart + toStart, v);
    });
    if (toEnd - toStart > oldLen && this.grownTail >= 0) pushMerged(moved, toStart + oldLen, toEnd, this.grownTail);
    this.rewrite(fromStart, fromEnd, FILL_NOTHING, 0, null);
    this.rewrite(toStart, toEnd, FILL_LIST, 0, moved);
  }

  /** Removes every range (exec). */
  clear(): void {
    const old = this.listeners.length !== 0 ? this.flat() : null;
    this.chunks = [];
    this._count = 0;
    this.version++;
    if (old && old.length !== 0) this.notify(old, []);
  }

  /**
   * Calls fn after every change of this map from now on, with what left and
   * what came (see ChangeListener): how a view keeps what it derives from
   * the map by differences. Returns the function that stops the calls. A
   * copy (clone) starts without listeners. Costs nothing while none is set.
   */
  watch(fn: ChangeListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Calls fn for every range in address order; returning true from fn stops the walk. */
  forEach(fn: (start: number, end: number, value: V) => boolean | void): void {
    for (const c of this.chunks) {
      const { s, e, v } = c;
      for (let i = 0; i < s.length; i++) if (fn(s[i]!, e[i]!, v[i]!) === true) return;
    }
  }

  /** Like forEach, restricted to ranges intersecting [start, end), clipped to it. */
  forEachIn(start: number, end: number, fn: (start: number, end: number, value: V) => boolean | void): void {
    let [ci, i] = this.findPos(start);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const { s, e, v } = this.chunks[ci]!;
      for (; i < s.length; i++) {
        if (s[i]! >= end) return;
        if (fn(Math.max(s[i]!, start), Math.min(e[i]!, end), v[i]!) === true) return;
      }
    }
  }

  /** The range containing addr, or null when addr is unmapped. */
  lookup(addr: number): [start: number, end: number, value: V] | null {
    const [ci, i] = this.findPos(addr);
    const c = this.chunks[ci];
    if (!c || i >= c.s.length || c.s[i]! > addr) return null;
    return [c.s[i]!, c.e[i]!, c.v[i]!];
  }

  /** All ranges as [start, end, value] triples. */
  toArray(): [start: number, end: number, value: V][] {
    const out: [number, number, V][] = [];
    this.forEach((s, e, v) => {
      out.push([s, e, v]);
    });
    return out;
  }

  /** Checks every structural invariant; for tests. Throws on the first violation. */
  assertValid(): void {
    let prevEnd = -1;
    let prevV = -1;
    let count = 0;
    for (const c of this.chunks) {
      if (c.s.length === 0) throw new Error('empty chunk');
      if (c.s.length > MAX_CHUNK) throw new Error('oversized chunk');
      if (c.e.length !== c.s.length || c.v.length !== c.s.length) throw new Error('ragged chunk');
      for (let i = 0; i < c.s.length; i++) {
        const s = c.s[i]!;
        const e = c.e[i]!;
        if (s >= e) throw new Error(`inverted range [${s}, ${e})`);
        if (s < prevEnd) throw new Error('overlap');
        if (s === prevEnd && c.v[i] === prevV) throw new Error('unmerged neighbours');
        prevEnd = e;
        prevV = c.v[i]!;
        count++;
      }
    }
    if (count !== this._count) throw new Error(`count drifted: ${this._count}/${count}`);
  }

  // ---- for the layers ----------------------------------------------------

  protected checkRange(start: number, end: number): void {
    if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || start >= end) {
      throw this.error(`range [${start}, ${end}) is empty or inverted`);
    }
  }

  /** The mapped parts of [start, end) take value; holes stay holes (MemMap.update). */
  protected setMapped(start: number, end: number, value: number): void {
    this.checkRange(start, end);
    this.checkValue(value);
    this.rewrite(start, end, FILL_MAPPED, value, null);
  }

  /**
   * Replaces the content of this (empty) map with a flat, sorted list
   * [start0, end0, value0, ...] of `stride` numbers a range (the first three
   * used). Neighbours of equal value merge. Throws this.error(...) when the
   * input is not sorted, overlaps, or holds an invalid range or value.
   */
  protected loadFlat(flat: ArrayLike<number>, stride: number): void {
    const out: Flat = [];
    let prevEnd = -1;
    for (let i = 0; i < flat.length; i += stride) {
      const s = flat[i]!;
      const e = flat[i + 1]!;
      const v = flat[i + 2]!;
      this.checkRange(s, e);
      this.checkValue(v);
      if (s < prevEnd) throw this.error(`range [${s}, ${e}) overlaps or is out of order`);
      prevEnd = e;
      pushMerged(out, s, e, v);
    }
    this.chunks = [];
    this._count = out.length / 3;
    const per = MAX_CHUNK / 2;
    for (let i = 0; i < out.length; i += 3 * per) {
      const c: Chunk<V> = { s: [], e: [], v: [] };
      for (let j = i; j < Math.min(out.length, i + 3 * per); j += 3) {
        c.s.push(out[j]!);
        c.e.push(out[j + 1]!);
        c.v.push(out[j + 2] as V);
      }
      this.chunks.push(c);
    }
    this.tally(out, 1);
    this.version++;
    if (this.listeners.length !== 0 && out.length !== 0) this.notify([], out);
  }

  /** Gives m (a fresh map) a deep copy of this map's ranges. */
  protected copyInto<M extends IntervalMap<V>>(m: M): M {
    m.chunks = this.chunks.map((c) => ({ s: c.s.slice(), e: c.e.slice(), v: c.v.slice() }));
    m._count = this._count;
    return m;
  }

  /**
   * Position (chunk index, index in chunk) of the first range whose end is
   * above addr. When there is none, the position just past the last range.
   */
  protected findPos(addr: number): [number, number] {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid]!;
      if (c.e[c.e.length - 1]! > addr) hi = mid;
      else lo = mid + 1;
    }
    if (lo === chunks.length) {
      return chunks.length === 0 ? [0, 0] : [chunks.length - 1, chunks[chunks.length - 1]!.s.length];
    }
    const e = chunks[lo]!.e;
    let a = 0;
    let b = e.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (e[mid]! > addr) b = mid;
      else a = mid + 1;
    }
    return [lo, a];
  }

  // ---- internals -------------------------------------------------------

  /**
   * The one mutation primitive. Removes everything in [start, end) and puts
   * `fill` in its place (value, or list for FILL_LIST). Ranges straddling the
   * edges keep their outside parts, and the result is merged with its
   * neighbours.
   */
  private rewrite(start: number, end: number, fill: Fill, value: number, list: Flat | null): void {
    if (this.chunks.length === 0) this.chunks.push({ s: [], e: [], v: [] });
    const chunks = this.chunks;
    let [ci, i] = this.findPos(start);

    // Step back one range when the previous one touches start: it may merge.
    let sci = ci;
    let si = i;
    const old: Flat = [];
    const out: Flat = [];
    {
      let pci = ci;
      let pi = i - 1;
      if (pi < 0 && pci > 0) {
        pci--;
        pi = chunks[pci]!.s.length - 1;
      }
      const pc = chunks[pci]!;
      if (pi >= 0 && pc.e[pi] === start) {
        sci = pci;
        si = pi;
        old.push(pc.s[pi]!, pc.e[pi]!, pc.v[pi]!);
        out.push(pc.s[pi]!, pc.e[pi]!, pc.v[pi]!);
      }
    }

    // Walk the ranges intersecting [start, end), then the one touching end.
    // old collects them as they are; out gets the left remainder, the new
    // content (FILL_MAPPED: as the walk goes), the right remainder and the
    // touching range.
    let rightS = -1;
    let rightE = -1;
    let rightV = 0;
    let nextS = -1;
    let nextE = -1;
    let nextV = 0;
    let filled = false;
    while (ci < chunks.length) {
      const c = chunks[ci]!;
      if (i >= c.s.length) {
        ci++;
        i = 0;
        continue;
      }
      const s = c.s[i]!;
      if (s > end) break;
      const e = c.e[i]!;
      const v = c.v[i]!;
      old.push(s, e, v);
      if (s === end) {
        nextS = s;
        nextE = e;
        nextV = v;
        break;
      }
      if (s < start) pushMerged(out, s, start, v);
      if (!filled) {
        filled = true;
        this.fillWith(out, start, end, fill, value, list);
      }
      if (fill === FILL_MAPPED) pushMerged(out, s < start ? start : s, e > end ? end : e, value);
      if (e > end) {
        rightS = end;
        rightE = e;
        rightV = v;
      }
      i++;
    }
    if (!filled) this.fillWith(out, start, end, fill, value, list);
    if (rightS >= 0) pushMerged(out, rightS, rightE, rightV);
    if (nextS >= 0) pushMerged(out, nextS, nextE, nextV);

    let same = old.length === out.length;
    for (let k = 0; same && k < old.length; k++) same = old[k] === out[k];
    if (same) {
      if (chunks.length === 1 && chunks[0]!.s.length === 0) this.chunks = [];
      return; // nothing changed
    }
    this.tally(old, -1);
    this.tally(out, 1);
    this._count += (out.length - old.length) / 3;
    this.replaceSpan(sci, si, old.length / 3, out);
    this.version++;
    if (this.listeners.length !== 0) this.notify(old, out);
  }

  /** Calls the listeners (a copy of the list: one may stop watching). */
  private notify(old: Flat, now: Flat): void {
    for (const fn of this.listeners.slice()) fn(old, now);
  }

  /** Every range, flat. */
  private flat(): Flat {
    const out: Flat = [];
    for (const c of this.chunks) for (let i = 0; i < c.s.length; i++) out.push(c.s[i]!, c.e[i]!, c.v[i]!);
    return out;
  }

  /** The new content of a rewrite, less FILL_MAPPED's (which follows the old ranges). */
  private fillWith(out: Flat, start: number, end: number, fill: Fill, value: number, list: Flat | null): void {
    if (fill === FILL_VALUE) pushMerged(out, start, end, value);
    else if (fill === FILL_LIST) for (let k = 0; k < list!.length; k += 3) pushMerged(out, list![k]!, list![k + 1]!, list![k + 2]!);
  }

  /** Replaces `count` ranges starting at (ci, i) with the flat list `items`, then rebalances. */
  private replaceSpan(ci: number, i: number, count: number, items: Flat): void {
    const chunks = this.chunks;
    // Normalise a position past the end of a chunk to the start of the next one,
    // unless the insertion happens at the very end of the map.
    if (i >= chunks[ci]!.s.length && ci + 1 < chunks.length && count > 0) {
      ci++;
      i = 0;
    }
    const first = chunks[ci]!;
    const fromFirst = Math.min(count, first.s.length - i);
    let rest = count - fromFirst;
    // Drop whole following chunks, then the head of the last one.
    let k = ci + 1;
    while (rest > 0 && rest >= chunks[k]!.s.length) {
      rest -= chunks[k]!.s.length;
      k++;
    }
    if (rest > 0) {
      const c = chunks[k]!;
      c.s.splice(0, rest);
      c.e.splice(0, rest);
      c.v.splice(0, rest);
    }
    if (k > ci + 1) chunks.splice(ci + 1, k - ci - 1);

    const n = items.length / 3;
    const { s, e, v } = first;
    if (n <= 8) {
      // The common case (a page-in splits or merges a few ranges): in place.
      // Overwrite what both have, then delete the surplus or insert the rest.
      const both = Math.min(n, fromFirst);
      for (let j = 0; j < both; j++) {
        s[i + j] = items[j * 3]!;
        e[i + j] = items[j * 3 + 1]!;
        v[i + j] = items[j * 3 + 2] as V;
      }
      if (fromFirst > n) {
        s.splice(i + n, fromFirst - n);
        e.splice(i + n, fromFirst - n);
        v.splice(i + n, fromFirst - n);
      }
      for (let j = both; j < n; j++) {
        s.splice(i + j, 0, items[j * 3]!);
        e.splice(i + j, 0, items[j * 3 + 1]!);
        v.splice(i + j, 0, items[j * 3 + 2] as V);
      }
    } else {
      // concat, not splice(...items): a remap can move more ranges than a call takes arguments.
      const ns: number[] = [];
      const ne: number[] = [];
      const nv: V[] = [];
      for (let j = 0; j < items.length; j += 3) {
        ns.push(items[j]!);
        ne.push(items[j + 1]!);
        nv.push(items[j + 2] as V);
      }
      first.s = s.slice(0, i).concat(ns, s.slice(i + fromFirst));
      first.e = e.slice(0, i).concat(ne, e.slice(i + fromFirst));
      first.v = v.slice(0, i).concat(nv, v.slice(i + fromFirst));
    }
    this.rebalance(ci);
  }

  /** Splits an oversized chunk, drops an empty one, merges a small one into its neighbour. */
  private rebalance(ci: number): void {
    const chunks = this.chunks;
    const c = chunks[ci]!;
    if (c.s.length > MAX_CHUNK) {
      const parts: Chunk<V>[] = [];
      const per = MAX_CHUNK / 2;
      for (let j = 0; j < c.s.length; j += per) {
        parts.push({ s: c.s.slice(j, j + per), e: c.e.slice(j, j + per), v: c.v.slice(j, j + per) });
      }
      chunks.splice(ci, 1, ...parts);
      return;
    }
    if (c.s.length === 0) {
      chunks.splice(ci, 1);
      return;
    }
    // Merge with the next chunk first (it may have been trimmed), then with the previous one.
    if (!this.mergeChunks(ci, ci + 1)) this.mergeChunks(ci - 1, ci);
  }

  /** Appends chunk b to chunk a (b = a + 1) when one is small and both fit in one. */
  private mergeChunks(a: number, b: number): boolean {
    const chunks = this.chunks;
    const ca = chunks[a];
    const cb = chunks[b];
    if (!ca || !cb) return false;
    if ((ca.s.length >= MIN_CHUNK && cb.s.length >= MIN_CHUNK) || ca.s.length + cb.s.length > MAX_CHUNK) return false;
    ca.s.push(...cb.s);
    ca.e.push(...cb.e);
    ca.v.push(...cb.v);
    chunks.splice(b, 1);
    return true;
  }
}
