/*
 * stackbytes — bytes per call stack (the origin map's stack id, -1 where no
 * origin covers the memory), resident and mapped, kept by the differences
 * the maps report instead of a new walk per refresh: what the live flame
 * graph reads.
 *
 * StackBytes follows one process: one walk of its memory map against its
 * origin map when it starts (annotate.overlay(), the same walk as the
 * call-site table), then IntervalMap.watch() hands it each change of either
 * map, and it subtracts what the ranges that left gave each stack and adds
 * what the ranges that came give: a page-in costs the few ranges it split or
 * merged, not the 20,000 of the map. StackBytesSet follows the processes a
 * view shows (they come and go) and says which stacks changed since it was
 * last asked.
 */
import { overlay } from './annotate';
import { RESIDENT, type MemMap } from './memmap';
import type { TagMap } from './tagmap';

/** Which bytes: resident only, or every mapped byte. */
export type StackValue = 'resident' | 'mapped';

/** What StackBytesSet reads of a process. */
export interface StackProcess {
  pid: number;
  map: MemMap;
  origins: TagMap;
}

function add(m: Map<number, number>, id: number, len: number): void {
  const v = (m.get(id) ?? 0) + len;
  if (v === 0) m.delete(id);
  else m.set(id, v);
}

/**
 * Resident and mapped bytes per stack id of one process, equal at any time
 * to a walk of its map against its origins (flame.bytesByStack). Watches
 * both maps from construction until dispose(), which the owner must call
 * (the maps would otherwise keep it, and keep calling it). Stacks with no
 * bytes have no entry.
 */
export class StackBytes {
  readonly resident = new Map<number, number>();
  readonly mapped = new Map<number, number>();
  /** Stack ids whose bytes changed since the last takeDirty(). */
  private dirty = new Set<number>();
  private readonly stops: (() => void)[];

  constructor(
    readonly map: MemMap,
    readonly origins: TagMap,
  ) {
    overlay(map, origins, 0, Infinity, (s, e, st, v) => this.count(v, st, e - s));
    this.dirty.clear();
    this.stops = [map.watch((old, now) => this.onMap(old, now)), origins.watch((old, now) => this.onOrigins(old, now))];
  }

  /** The bytes of stack id. */
  get(id: number, value: StackValue): number {
    return (value === 'resident' ? this.resident : this.mapped).get(id) ?? 0;
  }

  /** Adds the ids whose bytes changed since the last call to into. */
  takeDirty(into: Set<number>): void {
    for (const id of this.dirty) into.add(id);
    this.dirty.clear();
  }

  /** Stops watching the maps. */
  dispose(): void {
    for (const stop of this.stops) stop();
    this.stops.length = 0;
  }

  private count(id: number, state: number, len: number): void {
    add(this.mapped, id, len);
    if (state === RESIDENT) add(this.resident, id, len);
    this.dirty.add(id);
  }

  /** The memory map changed (the origins did not): each range that left or
   * came, split by the origins under it. */
  private onMap(old: readonly number[], now: readonly number[]): void {
    this.ranges(old, -1);
    this.ranges(now, 1);
  }

  private ranges(list: readonly number[], sign: 1 | -1): void {
    for (let k = 0; k < list.length; k += 3) {
      const s = list[k]!;
      const e = list[k + 1]!;
      const st = list[k + 2]!;
      let pos = s;
      this.origins.forEachIn(s, e, (ts, te, v) => {
        if (ts > pos) this.count(-1, st, sign * (ts - pos));
        this.count(v, st, sign * (te - ts));
        pos = te;
      });
      if (pos < e) this.count(-1, st, sign * (e - pos));
    }
  }

  /** The origins changed (the memory did not): the memory under the span
   * of the change, split by the origins before (old; holes are -1) and
   * after (now). */
  private onOrigins(old: readonly number[], now: readonly number[]): void {
    const lo = Math.min(old.length ? old[0]! : Infinity, now.length ? now[0]! : Infinity);
    const hi = Math.max(old.length ? old[old.length - 2]! : -Infinity, now.length ? now[now.length - 2]! : -Infinity);
    if (!(lo < hi)) return;
    this.memory(lo, hi, old, -1);
    this.memory(lo, hi, now, 1);
  }

  /** The memory of [lo, hi) split by the tags of list (sorted, inside [lo, hi)). */
  private memory(lo: number, hi: number, list: readonly number[], sign: 1 | -1): void {
    let j = 0;
    this.map.forEachIn(lo, hi, (s, e, st) => {
      let pos = s;
      while (j < list.length && list[j + 1]! <= pos) j += 3;
      for (let k = j; pos < e; k += 3) {
        if (k >= list.length || list[k]! >= e) {
          this.count(-1, st, sign * (e - pos));
          break;
        }
        const ts = list[k]!;
        if (ts > pos) {
          this.count(-1, st, sign * (ts - pos));
          pos = ts;
        }
        const pe = Math.min(list[k + 1]!, e);
        this.count(list[k + 2]!, st, sign * (pe - pos));
        pos = pe;
      }
    });
  }
}

/**
 * The StackBytes of the processes a view shows. sync() is called with the
 * processes at each refresh: a process new to the set (or whose map or
 * origins object was replaced) gets a StackBytes, one that left is
 * disposed, and the answer is every stack id whose total may have changed
 * since the last sync: the ids a change touched and every id of a process
 * that came or went. dispose() (or sync([])) stops all watching.
 */
export class StackBytesSet {
  private readonly byPid = new Map<number, StackBytes>();

  sync(procs: Iterable<StackProcess>): Set<number> {
    const changed = new Set<number>();
    const keep = new Set<number>();
    for (const p of procs) {
      keep.add(p.pid);
      let b = this.byPid.get(p.pid);
      if (b && (b.map !== p.map || b.origins !== p.origins)) {
        this.drop(p.pid, b, changed);
        b = undefined;
      }
      if (!b) {
        b = new StackBytes(p.map, p.origins);
        this.byPid.set(p.pid, b);
        for (const id of b.mapped.keys()) changed.add(id);
      } else b.takeDirty(changed);
    }
    for (const [pid, b] of this.byPid) if (!keep.has(pid)) this.drop(pid, b, changed);
    return changed;
  }

  /** Bytes of stack id over the processes of the last sync. */
  get(id: number, value: StackValue): number {
    let sum = 0;
    for (const b of this.byPid.values()) sum += b.get(id, value);
    return sum;
  }

  /** Bytes per stack id over the processes of the last sync. */
  all(value: StackValue): Map<number, number> {
    const out = new Map<number, number>();
    for (const b of this.byPid.values()) for (const [id, v] of value === 'resident' ? b.resident : b.mapped) out.set(id, (out.get(id) ?? 0) + v);
    return out;
  }

  dispose(): void {
    for (const b of this.byPid.values()) b.dispose();
    this.byPid.clear();
  }

  private drop(pid: number, b: StackBytes, changed: Set<number>): void {
    b.dispose();
    this.byPid.delete(pid);
    for (const id of b.mapped.keys()) changed.add(id);
    b.takeDirty(changed);
  }
}
