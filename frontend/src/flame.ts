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
import { callSites, type AnnotatedProcess } from './annotate';
import type { Frame } from './protocol';
import { formatBytes } from './format';

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

/** Bytes per stack id (-1: unknown origin) over the live processes given. */
export function bytesByStack(procs: Iterable<AnnotatedProcess>, value: FlameValue): Map<number, number> {
  const out = new Map<number, number>();
  for (const row of callSites(procs)) {
    const v = value === 'resident' ? row.resident : row.mapped;
    if (v > 0) out.set(row.stackId, v);
  }
  return out;
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

/** The node chart library's shape (flame-chart-js FlameChartNode) plus ours. */
export interface ChartNode {
  name: string;
  start: number;
  duration: number;
  color?: string;
  children?: ChartNode[];
  /** Ours: the tree node it draws. */
  flame: FlameNode;
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

/**
 * Lays the tree out for the chart: children side by side from their parent's
 * start, largest first, each as wide as its bytes (for a diff, the larger of
 * A and B, so that what shrank to nothing still shows). O(frames).
 */
export function toChart(root: FlameNode, diff: boolean): ChartNode {
  const width = (n: FlameNode): number => (diff ? Math.max(n.value, n.before) : n.value);
  const lay = (n: FlameNode, start: number): ChartNode => {
    const out: ChartNode = { name: n.name, start, duration: width(n), color: diff ? diffColor(n) : nameColor(n.name), flame: n };
    if (n.children.size) {
      const kids = [...n.children.values()].sort((a, b) => width(b) - width(a) || (a.name < b.name ? -1 : 1));
      let x = start;
      out.children = kids.map((k) => {
        const c = lay(k, x);
        x += c.duration;
        return c;
      });
    }
    return out;
  };
  return lay(root, 0);
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
  return [...by.values()]
    .sort((a, b) => b.value - a.value || Math.abs(b.value - b.before) - Math.abs(a.value - a.before) || (a.name < b.name ? -1 : 1))
    .slice(0, n);
}
