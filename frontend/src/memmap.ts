/*
 * memmap — the memory-map model of one address space (TypeScript twin of
 * proto/memmap.h; both are checked against tests/vectors/*.json).
 *
 * A MemMap is an interval map from half-open ranges [start, end) to a page
 * state. Ranges never overlap, are kept sorted, and adjacent ranges of equal
 * state are always merged, so a given map has exactly one representation.
 * rss (bytes in resident ranges) and vsz (bytes in all ranges) are kept
 * incrementally.
 *
 * Addresses are JavaScript numbers. Page-aligned addresses below 2^56 (all the
 * wire allows) have at most 44 significant bits and are therefore exact
 * doubles, and so are their differences and sums.
 *
 * Storage is a list of chunks, each holding up to MAX_CHUNK ranges in three
 * parallel arrays. An operation finds its place by binary search over the
 * chunks and then within one chunk, and rewrites only the ranges it touches:
 * O(log n + k + MAX_CHUNK), which keeps 200,000-range maps cheap to mutate
 * (see tests/frontend/bench.mjs for measured numbers).
 *
 * This file has no imports on purpose: tests/tools/fake-launcher.mjs and the
 * e2e mock daemon load it with TypeScript's transpiler.
 */

export type PageState = 0 | 1 | 2;
export const NOT_RESIDENT: PageState = 0;
export const RESIDENT: PageState = 1;
export const UNTRACKED: PageState = 2;
export const STATE_NAMES = ['not_resident', 'resident', 'untracked'] as const;
export type StateName = (typeof STATE_NAMES)[number];

/** Returns the state's name, or null when the value is not a state. */
export function stateName(state: number): StateName | null {
  return isState(state) ? STATE_NAMES[state] : null;
}

/** Parses "resident" / "not_resident" / "untracked" (or a number) into a state. */
export function parseState(v: string | number): PageState | null {
  if (typeof v === 'number') return isState(v) ? v : null;
  const i = (STATE_NAMES as readonly string[]).indexOf(v);
  return i < 0 ? null : (i as PageState);
}

export function isState(v: number): v is PageState {
  return v === 0 || v === 1 || v === 2;
}

/** Thrown for the inputs the C model rejects with -EINVAL; the map is unchanged. */
export class MemMapError extends Error {
  readonly code = 'EINVAL';
  constructor(message: string) {
    super(message);
    this.name = 'MemMapError';
  }
}

/** One range, as returned by lookup() and toArray(). */
export type Range = [start: number, end: number, state: PageState];

const MAX_CHUNK = 512;
const MIN_CHUNK = 64;

interface Chunk {
  s: number[]; // starts
  e: number[]; // ends
  st: PageState[]; // states
}

function emptyChunk(): Chunk {
  return { s: [], e: [], st: [] };
}

function checkRange(start: number, end: number): void {
  if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || start >= end) {
    throw new MemMapError(`range [${start}, ${end}) is empty or inverted`);
  }
}

function checkState(state: number): asserts state is PageState {
  if (!isState(state)) throw new MemMapError(`invalid page state ${state}`);
}

/** Flat list of ranges [s0, e0, st0, s1, e1, st1, ...] used while rewriting. */
type Flat = number[];

/** Appends [s, e, st] to out, merging it with the last range when they touch with equal state. */
function pushMerged(out: Flat, s: number, e: number, st: number): void {
  const n = out.length;
  if (n >= 3 && out[n - 2] === s && out[n - 1] === st) {
    out[n - 2] = e;
  } else {
    out.push(s, e, st);
  }
}

export class MemMap {
  private chunks: Chunk[] = [];
  private _rss = 0;
  private _vsz = 0;
  private _count = 0;
  /** Incremented by every mutation; lets views cache what they derive from the map. */
  version = 0;

  /** Bytes in resident ranges. */
  get rss(): number {
    return this._rss;
  }

  /** Bytes in all ranges. */
  get vsz(): number {
    return this._vsz;
  }

  /** Number of ranges (after merging). */
  get count(): number {
    return this._count;
  }

  /**
   * Builds a map from a flat, sorted array [start0, end0, state0, ...] as sent in
   * snapshots. Adjacent equal ranges are merged. Throws MemMapError when the
   * input is not sorted, overlaps, or holds an invalid range or state.
   */
  static fromFlat(flat: ArrayLike<number>): MemMap {
    if (flat.length % 3 !== 0) throw new MemMapError('flat range list length is not a multiple of 3');
    const m = new MemMap();
    const out: Flat = [];
    let prevEnd = -1;
    for (let i = 0; i < flat.length; i += 3) {
      const s = flat[i]!;
      const e = flat[i + 1]!;
      const st = flat[i + 2]!;
      checkRange(s, e);
      checkState(st);
      if (s < prevEnd) throw new MemMapError(`range [${s}, ${e}) overlaps or is out of order`);
      prevEnd = e;
      pushMerged(out, s, e, st);
    }
    m.load(out);
    return m;
  }

  /** Returns a deep copy (a forked process starts from its parent's map). */
  clone(): MemMap {
    const m = new MemMap();
    m.chunks = this.chunks.map((c) => ({ s: c.s.slice(), e: c.e.slice(), st: c.st.slice() }));
    m._rss = this._rss;
    m._vsz = this._vsz;
    m._count = this._count;
    return m;
  }

  /** Sets [start, end) to state, overwriting whatever was there (a new mapping). */
  set(start: number, end: number, state: number): void {
    checkRange(start, end);
    checkState(state);
    this.rewrite(start, end, (_clipped, out) => pushMerged(out, start, end, state));
  }

  /** Changes the state of the mapped parts of [start, end); holes stay holes. */
  update(start: number, end: number, state: number): void {
    checkRange(start, end);
    checkState(state);
    this.rewrite(start, end, (clipped, out) => {
      for (let i = 0; i < clipped.length; i += 3) pushMerged(out, clipped[i]!, clipped[i + 1]!, state);
    });
  }

  /** Removes [start, end) (munmap). Removing nothing is fine. */
  remove(start: number, end: number): void {
    checkRange(start, end);
    this.rewrite(start, end, () => undefined);
  }

  /**
   * mremap: the contents of [fromStart, fromEnd) (holes included) move to
   * toStart, replacing everything in [toStart, toEnd). The first
   * min(old, new) bytes keep their states; a grown tail is not resident; a
   * shrunk tail is dropped. The two ranges may overlap.
   */
  remap(fromStart: number, fromEnd: number, toStart: number, toEnd: number): void {
    checkRange(fromStart, fromEnd);
    checkRange(toStart, toEnd);
    const oldLen = fromEnd - fromStart;
    const newLen = toEnd - toStart;
    const keep = Math.min(oldLen, newLen);
    const moved: Flat = [];
    this.forEachIn(fromStart, fromStart + keep, (s, e, st) => {
      moved.push(s - fromStart + toStart, e - fromStart + toStart, st);
    });
    this.rewrite(fromStart, fromEnd, () => undefined);
    this.rewrite(toStart, toEnd, (_clipped, out) => {
      for (let i = 0; i < moved.length; i += 3) pushMerged(out, moved[i]!, moved[i + 1]!, moved[i + 2]!);
      if (newLen > oldLen) pushMerged(out, toStart + oldLen, toEnd, NOT_RESIDENT);
    });
  }

  /** Removes every range (exec). */
  clear(): void {
    this.chunks = [];
    this._rss = 0;
    this._vsz = 0;
    this._count = 0;
    this.version++;
  }

  /** Calls fn for every range in address order; returning true from fn stops the walk. */
  forEach(fn: (start: number, end: number, state: PageState) => boolean | void): void {
    for (const c of this.chunks) {
      const { s, e, st } = c;
      for (let i = 0; i < s.length; i++) if (fn(s[i]!, e[i]!, st[i]!) === true) return;
    }
  }

  /** Like forEach, restricted to ranges intersecting [start, end), clipped to it. */
  forEachIn(start: number, end: number, fn: (start: number, end: number, state: PageState) => boolean | void): void {
    let [ci, i] = this.findPos(start);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const { s, e, st } = this.chunks[ci]!;
      for (; i < s.length; i++) {
        if (s[i]! >= end) return;
        if (fn(Math.max(s[i]!, start), Math.min(e[i]!, end), st[i]!) === true) return;
      }
    }
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
      fn(c.s, c.e, c.st, i, to);
      if (to < n) return;
    }
  }

  /** The range containing addr, or null when addr is unmapped. */
  lookup(addr: number): Range | null {
    const [ci, i] = this.findPos(addr);
    const c = this.chunks[ci];
    if (!c || i >= c.s.length || c.s[i]! > addr) return null;
    return [c.s[i]!, c.e[i]!, c.st[i]!];
  }

  /** The lowest start and highest end, or null for an empty map. */
  bounds(): [number, number] | null {
    if (this._count === 0) return null;
    const first = this.chunks[0]!;
    const last = this.chunks[this.chunks.length - 1]!;
    return [first.s[0]!, last.e[last.e.length - 1]!];
  }

  /** All ranges as [start, end, state] triples. */
  toArray(): Range[] {
    const out: Range[] = [];
    this.forEach((s, e, st) => {
      out.push([s, e, st]);
    });
    return out;
  }

  /** All ranges as a flat array, the snapshot wire layout. */
  toFlat(): number[] {
    const out: number[] = [];
    this.forEach((s, e, st) => {
      out.push(s, e, st);
    });
    return out;
  }

  /** Checks every structural invariant; for tests. Throws on the first violation. */
  assertValid(): void {
    let prevEnd = -1;
    let prevState = -1;
    let rss = 0;
    let vsz = 0;
    let count = 0;
    for (const c of this.chunks) {
      if (c.s.length === 0) throw new Error('empty chunk');
      if (c.s.length > MAX_CHUNK) throw new Error('oversized chunk');
      for (let i = 0; i < c.s.length; i++) {
        const s = c.s[i]!;
        const e = c.e[i]!;
        if (s >= e) throw new Error(`inverted range [${s}, ${e})`);
        if (s < prevEnd) throw new Error('overlap');
        if (s === prevEnd && c.st[i] === prevState) throw new Error('unmerged neighbours');
        prevEnd = e;
        prevState = c.st[i]!;
        vsz += e - s;
        if (c.st[i] === RESIDENT) rss += e - s;
        count++;
      }
    }
    if (rss !== this._rss || vsz !== this._vsz || count !== this._count) {
      throw new Error(`counters drifted: rss ${this._rss}/${rss} vsz ${this._vsz}/${vsz} count ${this._count}/${count}`);
    }
  }

  // ---- internals -------------------------------------------------------

  /** Replaces the whole content with an already merged flat list. */
  private load(flat: Flat): void {
    this.chunks = [];
    this._rss = 0;
    this._vsz = 0;
    this._count = flat.length / 3;
    const per = MAX_CHUNK / 2;
    for (let i = 0; i < flat.length; i += 3 * per) {
      const c = emptyChunk();
      for (let j = i; j < Math.min(flat.length, i + 3 * per); j += 3) {
        this.account(flat[j]!, flat[j + 1]!, flat[j + 2]!, 1);
        c.s.push(flat[j]!);
        c.e.push(flat[j + 1]!);
        c.st.push(flat[j + 2] as PageState);
      }
      this.chunks.push(c);
    }
    this.version++;
  }

  private account(s: number, e: number, st: number, sign: 1 | -1): void {
    const len = (e - s) * sign;
    this._vsz += len;
    if (st === RESIDENT) this._rss += len;
  }

  /**
   * Position (chunk index, index in chunk) of the first range whose end is
   * above addr. When there is none, the position just past the last range.
   */
  private findPos(addr: number): [number, number] {
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

  /**
   * The one mutation primitive. Removes everything in [start, end), then lets
   * fill append (with pushMerged) the new ranges for [start, end), given the
   * old ranges clipped to [start, end). Ranges straddling the edges keep
   * their outside parts, and the result is merged with its neighbours.
   */
  private rewrite(start: number, end: number, fill: (clipped: Flat, out: Flat) => void): void {
    if (this.chunks.length === 0) this.chunks.push(emptyChunk());
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
        pi = this.chunks[pci]!.s.length - 1;
      }
      const pc = this.chunks[pci]!;
      if (pi >= 0 && pc.e[pi] === start) {
        sci = pci;
        si = pi;
        old.push(pc.s[pi]!, pc.e[pi]!, pc.st[pi]!);
        out.push(pc.s[pi]!, pc.e[pi]!, pc.st[pi]!);
      }
    }

    // Collect the ranges intersecting [start, end) and the one touching end.
    const clipped: Flat = [];
    let leftRem: Range | null = null;
    let rightRem: Range | null = null;
    let next: Range | null = null;
    while (ci < this.chunks.length) {
      const c = this.chunks[ci]!;
      if (i >= c.s.length) {
        ci++;
        i = 0;
        continue;
      }
      const s = c.s[i]!;
      const e = c.e[i]!;
      const st = c.st[i]!;
      if (s > end) break;
      if (s === end) {
        next = [s, e, st];
        old.push(s, e, st);
        break;
      }
      old.push(s, e, st);
      if (s < start) leftRem = [s, start, st];
      if (e > end) rightRem = [end, e, st];
      clipped.push(Math.max(s, start), Math.min(e, end), st);
      i++;
    }

    if (leftRem) pushMerged(out, leftRem[0], leftRem[1], leftRem[2]);
    fill(clipped, out);
    if (rightRem) pushMerged(out, rightRem[0], rightRem[1], rightRem[2]);
    if (next) pushMerged(out, next[0], next[1], next[2]);

    if (old.length === out.length && old.every((v, k) => v === out[k])) {
      if (this.chunks.length === 1 && this.chunks[0]!.s.length === 0) this.chunks = [];
      return; // nothing changed
    }
    for (let k = 0; k < old.length; k += 3) this.account(old[k]!, old[k + 1]!, old[k + 2]!, -1);
    for (let k = 0; k < out.length; k += 3) this.account(out[k]!, out[k + 1]!, out[k + 2]!, 1);
    this._count += (out.length - old.length) / 3;
    this.replaceSpan(sci, si, old.length / 3, out);
    this.version++;
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
      c.st.splice(0, rest);
    }
    if (k > ci + 1) chunks.splice(ci + 1, k - ci - 1);

    const n = items.length / 3;
    if (n <= 8) {
      // The common case (a page-in splits or merges a few ranges): in place.
      first.s.splice(i, fromFirst);
      first.e.splice(i, fromFirst);
      first.st.splice(i, fromFirst);
      for (let j = 0; j < n; j++) {
        first.s.splice(i + j, 0, items[j * 3]!);
        first.e.splice(i + j, 0, items[j * 3 + 1]!);
        first.st.splice(i + j, 0, items[j * 3 + 2] as PageState);
      }
    } else {
      // concat, not splice(...items): a remap can move more ranges than a call takes arguments.
      const ns: number[] = [];
      const ne: number[] = [];
      const nst: PageState[] = [];
      for (let j = 0; j < items.length; j += 3) {
        ns.push(items[j]!);
        ne.push(items[j + 1]!);
        nst.push(items[j + 2] as PageState);
      }
      first.s = first.s.slice(0, i).concat(ns, first.s.slice(i + fromFirst));
      first.e = first.e.slice(0, i).concat(ne, first.e.slice(i + fromFirst));
      first.st = first.st.slice(0, i).concat(nst, first.st.slice(i + fromFirst));
    }
    this.rebalance(ci);
  }

  /** Splits an oversized chunk, drops an empty one, merges a small one into its neighbour. */
  private rebalance(ci: number): void {
    const chunks = this.chunks;
    const c = chunks[ci]!;
    if (c.s.length > MAX_CHUNK) {
      const parts: Chunk[] = [];
      const per = MAX_CHUNK / 2;
      for (let j = 0; j < c.s.length; j += per) {
        parts.push({ s: c.s.slice(j, j + per), e: c.e.slice(j, j + per), st: c.st.slice(j, j + per) });
      }
      chunks.splice(ci, 1, ...parts);
      return;
    }
    if (c.s.length === 0) {
      chunks.splice(ci, 1);
      return;
    }
    // Merge with the next chunk first (it may have been trimmed), then with the previous one.
    for (const [a, b] of [
      [ci, ci + 1],
      [ci - 1, ci],
    ] as const) {
      const ca = chunks[a];
      const cb = chunks[b];
      if (!ca || !cb) continue;
      if ((ca.s.length < MIN_CHUNK || cb.s.length < MIN_CHUNK) && ca.s.length + cb.s.length <= MAX_CHUNK) {
        ca.s.push(...cb.s);
        ca.e.push(...cb.e);
        ca.st.push(...cb.st);
        chunks.splice(b, 1);
        return;
      }
    }
  }
}
