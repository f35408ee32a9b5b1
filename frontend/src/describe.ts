/*
 * describe — the tooltip text for what the pointer is over. Pure: takes the
 * map, its extents and a hit, returns lines (the first is the title).
 */
import { type MemMap, RESIDENT } from './memmap';
import { extentAt, PAGE } from './layout';
import { formatAddress, formatBytes, formatRange } from './format';
import { STATE_LABELS } from './theme';
import type { Frac, Hit } from './render/mapcanvas';
import type { TagMap } from './tagmap';
import type { Frame } from './protocol';
import { callSiteFrame, formatFrame, KIND_LABELS } from './annotate';
import { vmaKind, vmaName } from './store';

const SLOT_LABELS = ['resident', 'swapped', 'not resident', 'untracked'] as const;

/** What the tooltip and the side panel read of a process's annotations. */
export interface AnnotationContext {
  vmas: TagMap;
  origins: TagMap;
  touches: TagMap;
  /** The session's stacks. */
  stacks: ReadonlyMap<number, Frame[]>;
  /** Tracking mode of the session (0 exact: touches are meaningful). */
  mode: number;
  /** A thread's name, or null when unknown (the process's table, then its ancestors'). */
  threadName(tid: number): string | null;
}

/** "thread 4321 'worker-1'" */
export function formatThread(tid: number, name: string | null): string {
  return name ? `thread ${tid} '${name}'` : `thread ${tid}`;
}

/** The kind and name of a vma value: "heap [heap]", "file /usr/lib/libc.so.6", "thread stack of thread 12 'w'". */
export function describeVma(v: number | undefined, ctx: Pick<AnnotationContext, 'threadName'>): string {
  if (v === undefined) return 'anon';
  const kind = vmaKind(v);
  const name = vmaName(v);
  const label = KIND_LABELS[kind] ?? `kind ${kind}`;
  if (!name) return label;
  if (kind === 3 && /^\d+$/.test(name)) return `${label} of ${formatThread(Number(name), ctx.threadName(Number(name)))}`;
  if (kind === 0 && !name.startsWith('[')) return `${label} [anon:${name}]`;
  return `${label} ${name}`;
}

/** The "mapped by" line of an address: the call site of its origin stack. */
export function originLine(addr: number, ctx: AnnotationContext): string | null {
  const id = ctx.origins.get(addr);
  if (id === undefined) return ctx.stacks.size === 0 ? 'no backtraces (run with --backtraces=mmap)' : null;
  const frames = ctx.stacks.get(id);
  const f = frames ? callSiteFrame(frames) : null;
  return f ? `mapped by ${formatFrame(f)}` : `mapped by stack #${id} (its frames were not received)`;
}

/** Tooltip lines about the annotations at addr (kind and name, origin, first touch). */
export function annotationLines(addr: number, ctx: AnnotationContext): string[] {
  const lines = [describeVma(ctx.vmas.get(addr), ctx)];
  const o = originLine(addr, ctx);
  if (o) lines.push(o);
  if (ctx.mode === 0) {
    const tid = ctx.touches.get(addr);
    if (tid !== undefined) lines.push(`first touched by ${formatThread(tid, ctx.threadName(tid))}`);
  }
  return lines;
}

function pct(f: number): string {
  const p = f * 100;
  return p > 0 && p < 1 ? '<1%' : `${Math.round(p)}%`;
}

/** "62% resident · 38% not resident · 0% unmapped" for a mixed column or cell. */
function mix(frac: Frac): string | null {
  const present = frac.filter((f) => f > 0.0005).length;
  const hole = Math.max(0, 1 - frac[0] - frac[1] - frac[2] - frac[3]);
  if (present + (hole > 0.0005 ? 1 : 0) <= 1) return null;
  const parts = frac.map((f, i) => (f > 0.0005 ? `${pct(f)} ${SLOT_LABELS[i]}` : '')).filter(Boolean);
  if (hole > 0.0005) parts.push(`${pct(hole)} unmapped`);
  return parts.join(' · ');
}

function mappingLine(map: MemMap, extents: Float64Array, addr: number): string | null {
  const ext = extentAt(extents, addr);
  if (!ext) return null;
  let resident = 0;
  map.forEachIn(ext[0], ext[1], (s, e, st) => {
    if (st === RESIDENT) resident += e - s;
  });
  const size = ext[1] - ext[0];
  return `mapping ${formatRange(ext[0], ext[1])} · ${formatBytes(size)}, ${formatBytes(resident)} resident (${pct(resident / size)})`;
}

function rangeLines(map: MemMap, addr: number): string[] {
  const r = map.lookup(addr);
  if (!r) return [`${formatAddress(addr)} · unmapped`];
  return [formatRange(r[0], r[1]), `${formatBytes(r[1] - r[0])} · ${STATE_LABELS[r[2]]}`];
}

export function describeHit(map: MemMap, extents: Float64Array, hit: Hit, ann: AnnotationContext | null = null): string[] | null {
  switch (hit.kind) {
    case 'gap':
      return [`${formatBytes(hit.bytes)} of address space with nothing tracked`, 'between two groups'];
    case 'more':
      return ['too many groups to draw', 'filter or zoom to see the rest'];
    case 'zoom-header':
      return ['back to the whole map', 'click, or press Esc'];
    case 'group': {
      if (hit.colStart === hit.colEnd) {
        return [`group at ${formatAddress(hit.groupStart)}`, `${formatRange(hit.groupStart, hit.groupEnd)} · ${formatBytes(hit.groupEnd - hit.groupStart)}`, 'click to zoom to pages'];
      }
      const addr = Math.floor(hit.addr / PAGE) * PAGE;
      const lines = rangeLines(map, addr);
      const m = mappingLine(map, extents, addr);
      if (m) lines.push(m);
      if (ann && map.lookup(addr)) lines.push(...annotationLines(addr, ann));
      const x = mix(hit.frac);
      if (x) lines.push(`this pixel ${formatRange(hit.colStart, Math.ceil(hit.colEnd / PAGE) * PAGE)}: ${x}`);
      lines.push(ann ? 'click to zoom to pages and see the backtrace' : 'click to zoom to pages');
      return lines;
    }
    case 'zoom-cell': {
      const lines: string[] = [];
      if (hit.pagesPerCell === 1) {
        const r = map.lookup(hit.addr);
        lines.push(`page ${formatAddress(hit.addr)} · ${r ? STATE_LABELS[r[2]] : 'unmapped'}`);
        if (r) lines.push(`in range ${formatRange(r[0], r[1])} · ${formatBytes(r[1] - r[0])}`);
      } else {
        lines.push(`${formatRange(hit.cellStart, hit.cellEnd)} · ${hit.pagesPerCell} pages`);
        const x = mix(hit.frac);
        const r = map.lookup(hit.addr);
        lines.push(x ?? (r ? STATE_LABELS[r[2]] : 'unmapped'));
      }
      const m = mappingLine(map, extents, hit.addr);
      if (m) lines.push(m);
      if (ann && map.lookup(hit.addr)) lines.push(...annotationLines(hit.addr, ann));
      lines.push(hit.pagesPerCell > 1 ? 'click to zoom into this row' : 'click for details and the backtrace');
      return lines;
    }
  }
}
