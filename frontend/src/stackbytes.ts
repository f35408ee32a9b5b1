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
    overlay(map, origins, 0, Infinity, (s, e, st, v) => {
      add(this.mapped, v, e - s);
      if (st === RESIDENT) add(this.resident, v, e - s);
    });
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

  /** The memory map changed (the origins did not): the ranges that left
   * and those that came, split by the origins under them. */
  private onMap(old: readonly number[], now: readonly number[]): void {
    const tags = this.within(this.origins, old, now);
    if (!tags) return;
    this.split(old, tags, -1);
    this.split(now, tags, 1);
  }

  /** The origins changed (the memory did not): the memory under the span
   * of the change, split by the origins before (old) and after (now). */
  private onOrigins(old: readonly number[], now: readonly number[]): void {
    const memory = this.within(this.map, old, now);
    if (!memory) return;
    this.split(memory, old, -1);
    this.split(memory, now, 1);
  }

  /** The ranges of m inside the extent of the two lists, flat (a buffer
   * reused by the next call), or null when both are empty. */
  private within(m: MemMap | TagMap, a: readonly number[], b: readonly number[]): readonly number[] | null {
    const lo = Math.min(a.length ? a[0]! : Infinity, b.length ? b[0]! : Infinity);
    const hi = Math.max(a.length ? a[a.length - 2]! : -Infinity, b.length ? b[b.length - 2]! : -Infinity);
    if (!(lo < hi)) return null;
    const out = this.buf;
    out.length = 0;
    m.forEachIn(lo, hi, (s, e, v) => {
      out.push(s, e, v);
    });
    return out;
  }

  private readonly buf: number[] = [];

  /** Counts each memory range (flat, value: its state) by the tag over
   * each piece of it (flat, value: the stack id; none: -1), times sign. */
  private split(memory: readonly number[], tags: readonly number[], sign: 1 | -1): void {
    let j = 0;
    for (let m = 0; m < memory.length; m += 3) {
      const e = memory[m + 1]!;
      const st = memory[m + 2]!;
      let pos = memory[m]!;
      while (j < tags.length && tags[j + 1]! <= pos) j += 3;
      for (let k = j; pos < e; k += 3) {
        if (k >= tags.length || tags[k]! >= e) {
          this.count(-1, st, sign * (e - pos));
          break;
        }
        const ts = tags[k]!;
        if (ts > pos) {
          this.count(-1, st, sign * (ts - pos));
          pos = ts;
        }
        const pe = Math.min(tags[k + 1]!, e);
        this.count(tags[k + 2]!, st, sign * (pe - pos));
        pos = pe;
      }
    }
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
