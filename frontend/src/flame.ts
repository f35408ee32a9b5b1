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
  /** Layout (FlameLayout): the children in drawing order, the colour, and
   * where the frame sits (its depth and its index in that row). */
  sorted?: FlameNode[];
  color?: string;
  depth?: number;
  index?: number;
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
 * A live tree kept up to date by differences: set() adds to each frame on
 * a stack's path what that stack's bytes changed by, creating the frames of
 * a new path. A frame left with nothing stays, zero wide (it is not drawn or
 * listed), so that memory coming and going moves no frame: a refresh of a
 * live 20,000-stack graph where 200 stacks changed costs 200 paths, not a new
 * tree, and keeps the layout's order. It also keeps the function list's sums
 * (top()) by the same differences, and the frames whose bytes changed
 * (takeChanged(): what FlameLayout.relayoutChanged() moves). A new stack
 * table calls for a new tree (the view keys it by the table's size).
 */
export class FlameTree {
  readonly root: FlameNode;
  /** Frames in the tree (root included; zero-wide ones too). */
  frames = 1;
  private readonly bytes = new Map<number, number>();
  /** Per function name, as topFrames() gives them: bytes over the paths
   * through it (a recursive frame once per path) and its frames. */
  private readonly byName = new Map<string, FlameNode>();
  /** Frames whose bytes changed since the last takeChanged() (null until
   * the first call: a tree built in one go records nothing), and the frame
   * count then. */
  private changed: Set<FlameNode> | null = null;
  private framesTaken = 1;
  /** Stacks whose bytes changed, ever (update() compares it). */
  private changes = 0;
  /** Per stack id, its path (see path()). */
  private readonly paths = new Map<number, { nodes: FlameNode[]; names: FlameNode[] }>();

  constructor(
    rootName: string,
    private readonly stacks: ReadonlyMap<number, readonly Frame[]>,
  ) {
    this.root = newNode(rootName);
  }

  /** Sets the bytes of stack id (-1: unknown origin). */
  set(id: number, now: number): void {
    const old = this.bytes.get(id) ?? 0;
    if (now === old) return;
    if (now === 0) this.bytes.delete(id);
    else this.bytes.set(id, now);
    this.changes++;
    const d = now - old;
    const path = this.path(id);
    const changed = this.changed;
    for (const node of path.nodes) {
      node.value += d;
      changed?.add(node);
    }
    for (const f of path.names) f.value += d;
    const leaf = path.nodes[path.nodes.length - 1]!;
    if (old === 0) leaf.stacks.push(id);
    if (now === 0) leaf.stacks.splice(leaf.stacks.indexOf(id), 1);
  }

  /** The frames of stack id's path, root first, made when first asked for
   * (frames are never removed, so they stay valid), and the function-list
   * entries of the names on it (once each). */
  private path(id: number): { nodes: FlameNode[]; names: FlameNode[] } {
    let p = this.paths.get(id);
    if (p) return p;
    p = { nodes: [this.root], names: [] };
    let node = this.root;
    for (const name of stackPath(id, this.stacks)) {
      let child = node.children.get(name);
      let f = this.byName.get(name);
      if (!f) {
        f = newNode(name);
        this.byName.set(name, f);
      }
      if (!child) {
        child = newNode(name);
        node.children.set(name, child);
        this.frames++;
        f.children.set(String(f.children.size), child);
      }
      p.nodes.push(child);
      if (!p.names.includes(f)) p.names.push(f);
      node = child;
    }
    this.paths.set(id, p);
    return p;
  }

  /**
   * Brings the tree to `after` (bytes per stack id, as bytesByStack gives;
   * a stack not in it has none). Returns 'none' when nothing changed,
   * 'values' when only bytes did (the frames are the same: a layout in the
   * same order stays valid), and 'structure' when frames were added.
   */
  update(after: ReadonlyMap<number, number>): 'none' | 'values' | 'structure' {
    const changes = this.changes;
    const frames = this.frames;
    for (const [id, now] of after) this.set(id, now);
    if (this.bytes.size > after.size) for (const id of [...this.bytes.keys()]) if (!after.has(id)) this.set(id, 0);
    return this.frames !== frames ? 'structure' : this.changes !== changes ? 'values' : 'none';
  }

  /**
   * The frames whose bytes changed since the last call, and whether frames
   * were added since then (their layout must then be redone in full); both
   * are forgotten. The first call starts the recording and says nothing
   * changed: the tree as built so far is laid out from scratch.
   */
  takeChanged(): { nodes: FlameNode[]; structure: boolean } {
    const out = { nodes: this.changed ? [...this.changed] : [], structure: this.changed !== null && this.frames !== this.framesTaken };
    if (this.changed) this.changed.clear();
    else this.changed = new Set();
    this.framesTaken = this.frames;
    return out;
  }

  /** The n functions with the most bytes, as topFrames(root, n) (without
   * its walk of every frame). */
  top(n: number): FlameNode[] {
    let out: FlameNode[] = [];
    for (const f of this.byName.values()) if (f.value !== 0) out.push(f);
    if (out.length > n) {
      // Only the candidates sort by byBytes: those with at least the n-th
      // largest bytes (the values alone sort natively, as numbers).
      const values = Float64Array.from(out, (f) => f.value).sort();
      const min = values[values.length - n]!;
      out = out.filter((f) => f.value >= min);
    }
    return out.sort(byBytes).slice(0, n);
  }
}

/** One depth of a laid-out tree: its frames left to right, with where each
 * starts and how wide it is (in bytes), and the index of its parent in the
 * row above (-1 for the root). */
export interface FlameRow {
  nodes: FlameNode[];
  x: Float64Array;
  w: Float64Array;
  parent: Int32Array;
}

/**
 * The tree laid out for drawing: per depth, the frames in order of their
 * start (children side by side from their parent's start, each as wide as
 * its bytes; for a diff the larger of A and B, so that what shrank to
 * nothing still shows). relayout(true) sorts siblings largest first;
 * relayout(false) keeps the order of the last sort and only moves and resizes
 * (a live graph whose frames keep their places while their bytes change),
 * allocating nothing; both are O(frames). relayoutChanged(frames) gives the
 * result of relayout(false) when only the bytes of those frames changed,
 * without a walk of the tree (see there).
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
      const parents: number[][] = [];
      const sortKids = (n: FlameNode, depth: number, parent: number): void => {
        const list = (lists[depth] ??= []);
        n.depth = depth;
        n.index = list.length;
        list.push(n);
        (parents[depth] ??= []).push(parent);
        n.color ??= this.diff ? diffColor(n) : nameColor(n.name);
        if (this.diff) n.color = diffColor(n);
        if (n.children.size === 0) {
          n.sorted = undefined;
          return;
        }
        const kids = [...n.children.values()].sort((a, b) => width(b) - width(a) || (a.name < b.name ? -1 : 1));
        n.sorted = kids;
        for (const k of kids) sortKids(k, depth + 1, n.index);
      };
      sortKids(this.root, 0, -1);
      this.rows = lists.map((nodes, d) => ({ nodes, x: new Float64Array(nodes.length), w: new Float64Array(nodes.length), parent: Int32Array.from(parents[d]!) }));
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

  /**
   * After the bytes of `nodes` (and of no other frame) changed, with no
   * frame added: the result of relayout(false), without its walk of the
   * tree. The changed frames get their new widths; then, per depth, the
   * positions are recomputed from the first frame that can move (right of
   * a frame that changed width, or a child of a frame that moved) to the
   * end of the row, in the row's typed arrays (a child starts where its
   * previous sibling ends, a first child where its parent starts). With 200
   * changed stacks in a 42,000-frame tree that is the 200 paths' frames and
   * a pass over flat arrays, instead of a walk of every frame object. A
   * frame not laid out by this layout falls back to relayout(false).
   */
  relayoutChanged(nodes: Iterable<FlameNode>): void {
    const rows = this.rows;
    const from = new Array<number>(rows.length).fill(Infinity);
    for (const n of nodes) {
      const row = n.depth === undefined ? undefined : rows[n.depth];
      const i = n.index ?? -1;
      if (!row || row.nodes[i] !== n) {
        this.relayout(false);
        return;
      }
      const w = this.width(n);
      if (row.w[i] !== w) {
        row.w[i] = w;
        if (i + 1 < from[n.depth!]!) from[n.depth!] = i + 1;
      }
    }
    // The first index of the row above whose position changed.
    let moved = Infinity;
    for (let d = 1; d < rows.length; d++) {
      const { x, w, parent } = rows[d]!;
      const up = rows[d - 1]!.x;
      const n = parent.length;
      let i = from[d]!;
      if (moved < Infinity) {
        // The first child of a frame at or after `moved` (parent is sorted).
        let lo = 0;
        let hi = n;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (parent[mid]! < moved) lo = mid + 1;
          else hi = mid;
        }
        if (lo < i) i = lo;
      }
      moved = Infinity;
      for (; i < n; i++) {
        const p = parent[i]!;
        const nx = i > 0 && parent[i - 1] === p ? x[i - 1]! + w[i - 1]! : up[p]!;
        if (nx !== x[i]) {
          x[i] = nx;
          if (moved === Infinity) moved = i;
        }
      }
    }
    this.total = rows[0]?.w[0] ?? 0;
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

/** A live tree of `bytes` (bytes per stack id) and its layout, for
 * refreshLive() to keep up to date. */
export function liveGraph(rootName: string, stacks: ReadonlyMap<number, readonly Frame[]>, bytes: ReadonlyMap<number, number>): { tree: FlameTree; layout: FlameLayout } {
  const tree = new FlameTree(rootName, stacks);
  tree.update(bytes);
  tree.takeChanged();
  return { tree, layout: new FlameLayout(tree.root, false) };
}

/**
 * One refresh of a live graph: the stacks in `changed` get their bytes from
 * bytes(id), and the layout follows: relayoutChanged() when only bytes
 * changed (the frames keep their order), relayout(true) when frames were
 * added. What the panel runs at each refresh, with the ids and bytes of a
 * StackBytesSet (stackbytes.ts); the result equals a tree and a layout
 * built from scratch (in the kept order). Returns what changed.
 */
export function refreshLive(tree: FlameTree, layout: FlameLayout, changed: Iterable<number>, bytes: (id: number) => number): 'none' | 'values' | 'structure' {
  for (const id of changed) tree.set(id, bytes(id));
  const what = tree.takeChanged();
  if (what.nodes.length === 0) return 'none';
  if (what.structure) layout.relayout(true);
  else layout.relayoutChanged(what.nodes);
  return what.structure ? 'structure' : 'values';
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

/** Colour of a diff frame: red for growth, blue for shrinking, grey when
 * equal; the shade in 24 steps (few colours: one fill each, see PALETTE). */
export function diffColor(n: FlameNode): string {
  const max = Math.max(n.value, n.before, 1);
  const d = (n.value - n.before) / max;
  if (Math.abs(d) < 0.005) return '#8a8a8a';
  const t = Math.min(1, Math.round((0.25 + Math.abs(d) * 0.75) * 24) / 24);
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return d > 0 ? `rgb(${mix(200, 230)},${mix(180, 40)},${mix(180, 40)})` : `rgb(${mix(180, 50)},${mix(190, 110)},${mix(200, 230)})`;
}

/** The warm colours of frames: 4 reds x 8 greens x 2 blues. A small set on
 * purpose: the chart fills once per colour (ui/flameplugin.ts), and at the
 * whole-graph view every pixel column of a 20,000-frame row is another
 * frame, so one colour per name cost a fill per column. */
const PALETTE: readonly string[] = Array.from({ length: 64 }, (_, i) => `rgb(${205 + (i % 4) * 15},${80 + ((i >> 2) % 8) * 18},${40 + (i >> 5) * 40})`);

/** A warm colour per frame name (stable, like flamegraph.pl's), one of 64. */
export function nameColor(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length]!;
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
