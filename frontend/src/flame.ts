/*
 * flame — the flame graph model: bytes by the call stack that mapped them,
 * as a tree of frames (outermost at the root), for one process or a whole
 * session, and the diff of two such trees (moments A and B). Pure, no DOM:
 * ui/flameview.ts draws it with flame-chart-js.
 *
 * Bytes per stack come from annotate.callSites() (the same walk the "by call
 * site" table does: each process's memory map against its origin map, in
 * address order), or, for the diff, from two /api/state answers.
 *
 * Frame names are functions without their "+0x.." offset (so one function
 * called from two places merges into one frame, as flamegraph.pl does),
 * else "module+0xPC", else "0xPC". Memory no origin covers is one frame,
 * "[unknown origin]"; a stack the session does not know is "[stack N]".
 */
import { overlay, type AnnotatedProcess } from './annotate';
import type { Frame } from './protocol';
import { formatBytes } from './format';
import { RESIDENT } from './memmap';

export type FlameValue = 'resident' | 'mapped';

/** One frame of the tree. */
export interface FlameNode {
  name: string;
  /** Bytes under this frame (at B, for a diff). */
  value: number;
  /** For a diff: bytes at A. */
  before: number;
  /** The stack ids whose paths end at this frame (stacksOf() gathers the
   * ones under it: what a click filters on). */
  stacks: number[];
  children: Map<string, FlameNode>;
  /** Layout (FlameLayout): the children in drawing order, and the colour. */
  sorted?: FlameNode[];
  color?: string;
}

/** The stack ids whose paths go through n. */
export function stacksOf(n: FlameNode): number[] {
  const out: number[] = [];
  const walk = (x: FlameNode): void => {
    for (const id of x.stacks) out.push(id);
    for (const k of x.children.values()) walk(k);
  };
  walk(n);
  return out;
}

export const UNKNOWN_ORIGIN = '[unknown origin]';

/** A frame's display name (see the header). */
export function frameName(f: Frame): string {
  if (f.func) return f.func.replace(/\+0x[0-9a-f]+$/i, '');
  const mod = f.module ? (f.module.split('/').pop() ?? '') : '';
  const pc = `0x${f.pc.toString(16)}`;
  return mod ? `${mod}+${pc}` : pc;
}

/** Paths by frames array: stacks are immutable once received, and a tree is
 * rebuilt every time the memory changes. */
const pathCache = new WeakMap<readonly Frame[], string[]>();

/** The path of a stack, outermost frame first. */
export function stackPath(id: number, stacks: ReadonlyMap<number, readonly Frame[]>): string[] {
  if (id < 0) return [UNKNOWN_ORIGIN];
  const frames = stacks.get(id);
  if (!frames || frames.length === 0) return [`[stack ${id}]`];
  let out = pathCache.get(frames);
  if (!out) {
    out = [];
    for (let i = frames.length - 1; i >= 0; i--) out.push(frameName(frames[i]!));
    pathCache.set(frames, out);
  }
  return out;
}

function newNode(name: string): FlameNode {
  return { name, value: 0, before: 0, stacks: [], children: new Map() };
}

/**
 * The tree of bytes per stack: `after` (and, for a diff, `before`) map stack
 * ids (-1: unknown origin) to bytes. Stacks with no bytes on either side are
 * left out. The root is named `rootName`.
 */
export function buildFlame(
  after: ReadonlyMap<number, number>,
  stacks: ReadonlyMap<number, readonly Frame[]>,
  before: ReadonlyMap<number, number> | null = null,
  rootName = 'all',
): FlameNode {
  const root = newNode(rootName);
  const ids = new Set<number>(after.keys());
  if (before) for (const id of before.keys()) ids.add(id);
  for (const id of ids) {
    const a = after.get(id) ?? 0;
    const b = before?.get(id) ?? 0;
    if (a === 0 && b === 0) continue;
    let node = root;
    node.value += a;
    node.before += b;
    for (const name of stackPath(id, stacks)) {
      let child = node.children.get(name);
      if (!child) {
        child = newNode(name);
        node.children.set(name, child);
      }
      child.value += a;
      child.before += b;
      node = child;
    }
    node.stacks.push(id);
  }
  return root;
}

/** Bytes per stack id (-1: unknown origin) over the live processes given:
 * the same walk as the call-site table (annotate.callSites), without its rows. */
export function bytesByStack(procs: Iterable<AnnotatedProcess>, value: FlameValue): Map<number, number> {
  const out = new Map<number, number>();
  const resident = value === 'resident';
  for (const p of procs) {
    if (!p.alive) continue;
    overlay(p.map, p.origins, 0, Infinity, (s, e, st, v) => {
      if (resident && st !== RESIDENT) return;
      out.set(v, (out.get(v) ?? 0) + (e - s));
    });
  }
  return out;
}

/**
 * A live tree kept up to date by differences: update() adds to each frame on
 * a stack's path what that stack's bytes changed by, creating the frames of
 * a new path. A frame left with nothing stays, zero wide (it is not drawn or
 * listed), so that memory coming and going moves no frame: a refresh of a
 * live 20,000-stack graph where 200 stacks changed costs 200 paths, not a new
 * tree, and keeps the layout's order. It also keeps the function list's sums
 * (top()) by the same differences. A new stack table calls for a new tree
 * (the view keys it by the table's size).
 */
export class FlameTree {
  readonly root: FlameNode;
  /** Frames in the tree (root included; zero-wide ones too). */
  frames = 1;
  private bytes = new Map<number, number>();
  /** Per function name, as topFrames() gives them: bytes over the paths
   * through it (a recursive frame once per path) and its frames. */
  private readonly byName = new Map<string, FlameNode>();

  constructor(
    rootName: string,
    private readonly stacks: ReadonlyMap<number, readonly Frame[]>,
  ) {
    this.root = newNode(rootName);
  }

  /**
   * Brings the tree to `after` (bytes per stack id, as bytesByStack gives).
   * Returns 'none' when nothing changed, 'values' when only bytes did (the
   * frames are the same: a layout in the same order stays valid), and
   * 'structure' when frames were added.
   */
  update(after: ReadonlyMap<number, number>): 'none' | 'values' | 'structure' {
    let changed = false;
    let structure = false;
    const seen: string[] = [];
    const apply = (id: number, old: number, now: number): void => {
      changed = true;
      const d = now - old;
      const path = stackPath(id, this.stacks);
      let node = this.root;
      node.value += d;
      seen.length = 0;
      for (const name of path) {
        let child = node.children.get(name);
        if (!child) {
          child = newNode(name);
          node.children.set(name, child);
          this.frames++;
          structure = true;
          let f = this.byName.get(name);
          if (!f) {
            f = newNode(name);
            this.byName.set(name, f);
          }
          f.children.set(String(f.children.size), child);
        }
        child.value += d;
        if (!seen.includes(name)) {
          seen.push(name);
          this.byName.get(name)!.value += d;
        }
        node = child;
      }
      if (old === 0) node.stacks.push(id);
      if (now === 0) node.stacks.splice(node.stacks.indexOf(id), 1);
    };
    for (const [id, now] of after) {
      const old = this.bytes.get(id) ?? 0;
      if (now !== old) apply(id, old, now);
    }
    for (const [id, old] of this.bytes) if (!after.has(id)) apply(id, old, 0);
    this.bytes = new Map();
    for (const [id, v] of after) if (v !== 0) this.bytes.set(id, v);
    return structure ? 'structure' : changed ? 'values' : 'none';
  }

  /** The n functions with the most bytes, as topFrames(root, n) (without
   * its walk of every frame). */
  top(n: number): FlameNode[] {
    const out: FlameNode[] = [];
    for (const f of this.byName.values()) if (f.value !== 0) out.push(f);
    return out.sort(byBytes).slice(0, n);
  }
}

/** One depth of a laid-out tree: its frames left to right, with where each
 * starts and how wide it is (in bytes). */
export interface FlameRow {
  nodes: FlameNode[];
  x: Float64Array;
  w: Float64Array;
}

/**
 * The tree laid out for drawing: per depth, the frames in order of their
 * start (children side by side from their parent's start, each as wide as
 * its bytes; for a diff the larger of A and B, so that what shrank to
 * nothing still shows). relayout(true) sorts siblings largest first;
 * relayout(false) keeps the order of the last sort and only moves and resizes
 * (a live graph whose frames keep their places while their bytes change),
 * allocating nothing. Both are O(frames).
 */
export class FlameLayout {
  rows: FlameRow[] = [];
  /** Width of the root: what the chart spans. */
  total = 0;

  constructor(
    readonly root: FlameNode,
    readonly diff: boolean,
  ) {
    this.relayout(true);
  }

  private width(n: FlameNode): number {
    return this.diff ? Math.max(n.value, n.before) : n.value;
  }

  relayout(full: boolean): void {
    const width = (n: FlameNode): number => this.width(n);
    if (full) {
      const lists: FlameNode[][] = [];
      const sortKids = (n: FlameNode, depth: number): void => {
        (lists[depth] ??= []).push(n);
        n.color ??= this.diff ? diffColor(n) : nameColor(n.name);
        if (this.diff) n.color = diffColor(n);
        if (n.children.size === 0) {
          n.sorted = undefined;
          return;
        }
        const kids = [...n.children.values()].sort((a, b) => width(b) - width(a) || (a.name < b.name ? -1 : 1));
        n.sorted = kids;
        for (const k of kids) sortKids(k, depth + 1);
      };
      sortKids(this.root, 0);
      this.rows = lists.map((nodes) => ({ nodes, x: new Float64Array(nodes.length), w: new Float64Array(nodes.length) }));
    }
    const at = new Array<number>(this.rows.length).fill(0);
    const rows = this.rows;
    const place = (n: FlameNode, depth: number, x: number): number => {
      const row = rows[depth]!;
      const i = at[depth]!++;
      const w = width(n);
      row.x[i] = x;
      row.w[i] = w;
      if (n.sorted) {
        let cx = x;
        for (const k of n.sorted) cx += place(k, depth + 1, cx);
      }
      return w;
    };
    this.total = place(this.root, 0, 0);
  }

  /** The first index of row whose frame ends after x (binary search). */
  static firstAfter(row: FlameRow, x: number): number {
    let lo = 0;
    let hi = row.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (row.x[mid]! + row.w[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** What /api/state (?session=S&at=T) says of a process, the parts used here. */
interface StateProcess {
  pid: number;
  alive: boolean;
  ranges?: [number, number, string][];
  origins?: [number, number, number][];
  stacks?: Record<string, { pc: number; func: string; module: string; source: string | null }[]>;
}

/**
 * Bytes per stack of one /api/state answer (the session's processes, or the
 * one pid), and the stacks it names. Both lists are sorted: one merge walk.
 */
export function bytesFromState(
  state: unknown,
  sessionId: number,
  pid: number | null,
  value: FlameValue,
): { bytes: Map<number, number>; stacks: Map<number, Frame[]> } {
  const bytes = new Map<number, number>();
  const stacks = new Map<number, Frame[]>();
  const sessions = (state as { sessions?: { id: number; alive?: boolean; processes: StateProcess[] }[] }).sessions ?? [];
  const s = sessions.find((x) => x.id === sessionId);
  // An ended session: what each process held when it exited.
  const ended = s?.alive === false;
  for (const p of s?.processes ?? []) {
    if ((!p.alive && !ended) || (pid !== null && p.pid !== pid)) continue;
    for (const [id, frames] of Object.entries(p.stacks ?? {})) stacks.set(Number(id), frames);
    const ranges = p.ranges ?? [];
    const origins = p.origins ?? [];
    let j = 0;
    for (const [start, end, st] of ranges) {
      if (value === 'resident' && st !== 'resident') continue;
      let pos = start;
      while (j < origins.length && origins[j]![1] <= pos) j++;
      let k = j;
      while (pos < end) {
        const o = origins[k];
        if (!o || o[0] >= end) {
          bytes.set(-1, (bytes.get(-1) ?? 0) + (end - pos));
          break;
        }
        if (o[0] > pos) {
          bytes.set(-1, (bytes.get(-1) ?? 0) + (o[0] - pos));
          pos = o[0];
        }
        const e = Math.min(end, o[1]);
        bytes.set(o[2], (bytes.get(o[2]) ?? 0) + (e - pos));
        pos = e;
        if (o[1] <= end) k++;
      }
    }
  }
  return { bytes, stacks };
}

/** Colour of a diff frame: red for growth, blue for shrinking, grey when equal. */
export function diffColor(n: FlameNode): string {
  const max = Math.max(n.value, n.before, 1);
  const d = (n.value - n.before) / max;
  if (Math.abs(d) < 0.005) return '#8a8a8a';
  const t = Math.min(1, 0.25 + Math.abs(d) * 0.75);
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return d > 0 ? `rgb(${mix(200, 230)},${mix(180, 40)},${mix(180, 40)})` : `rgb(${mix(180, 50)},${mix(190, 110)},${mix(200, 230)})`;
}

/** A warm colour per frame name (stable, like flamegraph.pl's). */
export function nameColor(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  const r = 205 + ((h >>> 0) % 50);
  const g = 80 + ((h >>> 8) % 130);
  const b = 40 + ((h >>> 16) % 50);
  return `rgb(${r},${g},${b})`;
}

/** Frames in the tree (root included). */
export function countFrames(n: FlameNode): number {
  let c = 1;
  for (const k of n.children.values()) c += countFrames(k);
  return c;
}

/** The tooltip lines of a frame. */
export function describeFrame(n: FlameNode, total: number, diff: boolean): string[] {
  const pct = total > 0 ? ` (${((100 * n.value) / total).toFixed(1)} %)` : '';
  const lines = [n.name, `${formatBytes(n.value)}${pct}`];
  if (diff) {
    const d = n.value - n.before;
    lines.push(`A ${formatBytes(n.before)} → B ${formatBytes(n.value)} (${d >= 0 ? '+' : '−'}${formatBytes(Math.abs(d))})`);
  }
  lines.push('click to show only the ranges its stacks mapped');
  return lines;
}

/**
 * The functions with the most bytes under them, largest first: every frame
 * of one name summed (a recursive frame counted once per path), with the
 * union of their stacks. The list under the chart, and what its rows filter.
 */
export function topFrames(root: FlameNode, n: number): FlameNode[] {
  const by = new Map<string, FlameNode>();
  const walk = (x: FlameNode, above: Set<string>): void => {
    for (const k of x.children.values()) {
      const seen = above.has(k.name);
      if (!seen) {
        let f = by.get(k.name);
        if (!f) {
          f = { name: k.name, value: 0, before: 0, stacks: [], children: new Map() };
          by.set(k.name, f);
        }
        f.value += k.value;
        f.before += k.before;
        // The frames of this name: their stacks are gathered on a click.
        f.children.set(String(f.children.size), k);
        above.add(k.name);
      }
      walk(k, above);
      if (!seen) above.delete(k.name);
    }
  };
  walk(root, new Set());
  return [...by.values()].sort(byBytes).slice(0, n);
}

/** Largest first, then the largest change, then by name. */
function byBytes(a: FlameNode, b: FlameNode): number {
  return b.value - a.value || Math.abs(b.value - b.before) - Math.abs(a.value - a.before) || (a.name < b.name ? -1 : 1);
}
