/*
 * processview — one process block: header (caret, pid, RSS, virtual size,
 * status, cmdline chips, RSS sparkline, resident bytes per memory kind) and
 * the memory map canvas.
 */
import type { ProcessState } from '../store';
import { formatArg, formatBytes } from '../format';
import { processEndText, procPidText } from '../endings';
import { MapCanvas, type Hit, type PaintOptions, type ZoomWindow } from '../render/mapcanvas';
import { KIND_COLORS, KIND_LABELS, kindBreakdown } from '../annotate';
import { KIND_NAMES } from '../protocol';
import type { RowOptions } from '../layout';
import type { DiffRange } from '../diff';
import type { MemMap } from '../memmap';
import { RssChart } from './chart';
import { el } from './dom';
import { Refresh } from './refresh';
import { coldTotals, heat, heatNowMs, heatSiteName } from '../heat';

export interface ProcessViewCallbacks {
  toggleCollapsed(key: string): void;
  hover(view: ProcessView, hit: Hit | null, ev: MouseEvent): void;
  click(view: ProcessView, hit: Hit): void;
}

export interface ProcessRenderInput {
  proc: ProcessState;
  depth: number;
  descendants: number;
  role: 'match' | 'context';
  collapsed: boolean;
  opts: RowOptions;
  zoom: ZoomWindow | null;
  width: number;
  /** Session time "now" (ns since session start), to extend the sparkline. */
  nowTs: number;
  /** Its session, to say how a process ended without an exit of its own. */
  session?: { alive: boolean; exitStatus: number | null };
  /** Diff ranges to highlight (A → B), or null when no diff is shown. */
  diff?: DiffRange[] | null;
  /** Group by call site, and the highlighted stack. */
  paint?: PaintOptions;
}

export class ProcessView {
  readonly el: HTMLElement;
  readonly key: string;
  proc: ProcessState;
  readonly canvas = new MapCanvas();
  private readonly caret: HTMLButtonElement;
  private readonly rss: HTMLElement;
  private readonly vsz: HTMLElement;
  private readonly swap: HTMLElement;
  private readonly kinds: HTMLElement;
  private readonly kindsRefresh = new Refresh();
  private readonly status: HTMLElement;
  private readonly heatStat: HTMLElement;
  private readonly pidEl: HTMLElement;
  private readonly args: HTMLElement;
  private readonly note: HTMLElement;
  private readonly body: HTMLElement;
  private readonly spark = new RssChart({ width: 160, height: 30, axes: false });
  private drawn = '';
  private drawnMap: MemMap | null = null;
  private drawnDiff: DiffRange[] | null = null;
  /** Shows a past state (its process objects change with every moment). */
  past = false;
  private textDone = false;
  private showBody = true;
  private input: ProcessRenderInput | null = null;
  private argsShown: readonly string[] | null = null;
  /** Whether the block is in (or near) the viewport; offscreen blocks skip drawing. */
  visible = true;
  /** Last draw duration in ms. */
  lastDrawMs = 0;

  constructor(key: string, proc: ProcessState, cb: ProcessViewCallbacks) {
    this.key = key;
    this.proc = proc;
    this.caret = el('button', { className: 'caret', title: 'collapse / expand (memory and children)' }, '▾');
    this.caret.addEventListener('click', () => cb.toggleCollapsed(this.key));
    this.rss = el('span', { className: 'mem-stats rss', title: 'resident set: bytes the kernel has pages for' });
    this.vsz = el('span', { className: 'mem-stats virt', title: 'virtual size: bytes mapped (private anonymous)' });
    this.swap = el('span', { className: 'mem-stats swap', title: 'swapped: bytes whose pages are in swap (sampled mode)' });
    this.swap.hidden = true;
    this.kinds = el('span', { className: 'kinds' });
    this.kinds.hidden = true;
    this.status = el('span', { className: 'proc-status' });
    this.heatStat = el('span', { className: 'mem-stats heat-stat' });
    this.heatStat.hidden = true;
    this.args = el('span', { className: 'args' });
    this.pidEl = el('span', { className: 'pid', title: `pid ${proc.pid}` }, String(proc.pid));
    const info = el('div', { className: 'process-info' }, this.caret, this.pidEl, this.rss, this.vsz, this.swap, this.kinds, this.heatStat, this.status, this.args, this.spark.el);
    this.note = el('div', { className: 'empty-note' });
    this.body = el('div', { className: 'process-body' }, this.canvas.canvas, this.note);
    this.el = el('div', { className: 'process' }, info, this.body);
    this.el.dataset.key = key;
    this.el.dataset.pid = String(proc.pid);

    const c = this.canvas.canvas;
    c.addEventListener('mousemove', (ev) => cb.hover(this, this.hitAt(ev), ev));
    c.addEventListener('mouseleave', (ev) => cb.hover(this, null, ev));
    c.addEventListener('click', (ev) => {
      const hit = this.hitAt(ev);
      if (hit) cb.click(this, hit);
    });
  }

  private hitAt(ev: MouseEvent): Hit | null {
    const r = this.canvas.canvas.getBoundingClientRect();
    return this.canvas.hitTest(ev.clientX - r.left, ev.clientY - r.top);
  }

  /**
   * Brings the header and visibility up to date. Header text and the
   * sparkline are refreshed only on `slow` frames (a few times a second):
   * DOM text churn at 60 Hz costs more than it tells. The canvas is left to
   * draw(), which the app calls within its per-frame budget.
   */
  update(input: ProcessRenderInput, slow: boolean): void {
    const { proc, collapsed, role } = input;
    this.proc = proc;
    this.input = input;
    if (slow || !this.textDone) this.renderText(input);
    this.showBody = role === 'match' && !collapsed;
    this.body.hidden = !this.showBody;
    if (this.showBody && (slow || !this.textDone)) this.spark.update(proc.history, proc.alive ? input.nowTs : undefined);
    this.textDone = true;
  }

  /** True when the canvas shows something older than the map, options, zoom or width. */
  get stale(): boolean {
    const i = this.input;
    return this.showBody && this.visible && (this.signature() !== this.drawn || i?.proc.map !== this.drawnMap || (i?.diff ?? null) !== this.drawnDiff);
  }

  /** Redraws the canvas. Returns the time spent in ms. */
  draw(): number {
    const input = this.input;
    if (!input) return 0;
    this.canvas.diff = input.diff ?? null;
    this.canvas.ann = input.proc;
    // Group by call site needs origins: without any, the page states keep their colours.
    const paint = input.paint;
    this.canvas.paint = paint && paint.bySite && input.proc.origins.count > 0 ? paint : { bySite: false, highlight: null };
    if (heat.on || heat.coldS !== null) this.canvas.paint = { ...this.canvas.paint, heat: { nowMs: heatNowMs(input.nowTs), coldS: heat.coldS } };
    this.lastDrawMs = this.canvas.draw(input.proc.map, input.width, input.opts, input.zoom);
    this.drawn = this.signature();
    this.drawnMap = input.proc.map;
    this.drawnDiff = input.diff ?? null;
    this.updateNote(input);
    return this.lastDrawMs;
  }

  private signature(): string {
    const i = this.input;
    if (!i) return '';
    const z = i.zoom;
    const p = i.paint;
    const ann = `${i.proc.vmas.version}:${i.proc.vmas.count}|${p?.bySite ? `site:${p.highlight}:${i.proc.origins.version}:${i.proc.origins.count}` : ''}`;
    const h = heat.on || heat.coldS !== null ? `heat:${heat.coldS}:${i.proc.written.version}:${Math.floor(i.nowTs / 5e8)}` : '';
    return `${i.proc.map.version}|${ann}|${h}|${i.width}|${i.opts.showGaps}|${i.opts.showNonResident}|${z ? `${z.start}-${z.end}` : ''}|${window.devicePixelRatio}`;
  }

  /** Heat totals: resident memory not written for more than N s, and its top call sites. */
  private renderHeat(input: ProcessRenderInput): void {
    const s = heat.coldS;
    this.heatStat.hidden = s === null;
    if (s === null) return;
    const t = coldTotals(input.proc, heatNowMs(input.nowTs), s);
    const sites = [...t.bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    this.heatStat.dataset.cold = String(t.cold);
    this.heatStat.dataset.never = String(t.never);
    const text = `Cold >${s}s ${formatBytes(t.cold)}${t.never ? ` (never written ${formatBytes(t.never)})` : ''}`;
    if (this.heatStat.textContent !== text) this.heatStat.textContent = text;
    this.heatStat.title = `resident, not written for more than ${s} s (leak suspects), by call site:\n${sites.map(([id, b]) => `${formatBytes(b)}  ${heatSiteName(input.proc.sessionId, id)}`).join('\n')}`;
  }

  /** Header text: sizes, status, command line, tree decorations. */
  private renderText(input: ProcessRenderInput): void {
    const { proc, collapsed, role } = input;
    this.el.style.setProperty('--depth', String(input.depth));
    this.el.classList.toggle('exited', !proc.alive);
    this.el.classList.toggle('context', role === 'context');
    this.el.classList.toggle('collapsed', collapsed);
    this.caret.textContent = collapsed ? '▸' : '▾';
    this.caret.title = collapsed && input.descendants > 0 ? `expand (${input.descendants} hidden below)` : 'collapse / expand';

    setStat(this.rss, 'RSS', formatBytes(proc.map.rss));
    setStat(this.vsz, 'Virt', formatBytes(proc.map.vsz));
    this.swap.hidden = proc.map.swap === 0;
    if (proc.map.swap > 0) setStat(this.swap, 'Swap', formatBytes(proc.map.swap));
    this.renderKinds(proc);
    this.renderHeat(input);
    let status = processEndText(proc, input.session ? { id: proc.sessionId, ...input.session } : null);
    const pidShown = procPidText(proc.sessionId, proc.pid);
    if (this.pidEl.textContent !== pidShown) {
      this.pidEl.textContent = pidShown;
      this.pidEl.title = pidShown === String(proc.pid) ? `pid ${proc.pid}` : `pid ${proc.pid} in its pid namespace, ${pidShown.replace(/^\d+ \(host (\d+)\)$/, '$1')} as the host (ps) sees it`;
    }
    if (collapsed && input.descendants > 0) status += `${status ? ' · ' : ''}+${input.descendants} below`;
    if (this.status.textContent !== status) this.status.textContent = status;
    if (this.argsShown !== proc.cmdline) this.renderArgs(proc.cmdline);
  }

  /**
   * The per-kind breakdown of the resident set: a small stacked bar (widths
   * in proportion, adding up to RSS) and the two largest kinds in words;
   * the title lists every kind. Shown once the process has vma annotations.
   */
  private renderKinds(proc: ProcessState): void {
    const key = `${proc.map.version}:${proc.map.rss}|${proc.vmas.version}:${proc.vmas.count}`;
    if (!this.kindsRefresh.due(key)) return;
    this.kinds.hidden = proc.vmas.count === 0;
    if (this.kinds.hidden) return;
    const bytes = kindBreakdown(proc.map, proc.vmas);
    this.kindsRefresh.measured();
    const total = proc.map.rss;
    const order = bytes.map((b, k) => [k, b] as const).filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]);
    const segs = order.map(([k, b]) => {
      const seg = el('span', { className: 'kind-seg', title: `${KIND_LABELS[k]}: ${formatBytes(b)}` });
      seg.style.width = `${(b / total) * 100}%`;
      seg.style.background = KIND_COLORS[k]!;
      seg.dataset.kind = KIND_NAMES[k]!;
      seg.dataset.bytes = String(b);
      return seg;
    });
    const bar = el('span', { className: 'kind-bar' }, ...segs);
    const words = order.length ? order.slice(0, 2).map(([k, b]) => `${KIND_LABELS[k]} ${formatBytes(b)}`).join(' · ') : 'nothing resident';
    this.kinds.replaceChildren(bar, el('span', { className: 'kind-text' }, words));
    this.kinds.title = `resident by kind (adds up to RSS ${formatBytes(total)}):\n${bytes.map((b, k) => `${KIND_LABELS[k]}: ${formatBytes(b)}`).join('\n')}`;
  }

  /** Forgets what was drawn so the next render redraws. */
  invalidate(): void {
    this.drawn = '';
    this.drawnMap = null;
  }

  private updateNote(input: ProcessRenderInput): void {
    const { proc } = input;
    let note = '';
    if (proc.map.count === 0) {
      note = proc.alive ? 'no private anonymous memory mapped (yet)' : 'exited with no memory left mapped';
    } else if (this.canvas.rowCount === 0 && !input.zoom) {
      note = `${this.canvas.hiddenGroups} group(s), none with resident pages — tick "Show non-resident groups" to see them`;
    }
    this.note.textContent = note;
    this.note.hidden = note === '';
  }

  private renderArgs(cmdline: readonly string[]): void {
    this.argsShown = cmdline;
    const chips = cmdline.length
      ? cmdline.map((a) => el('span', { className: 'arg', title: a }, formatArg(a)))
      : [el('span', { className: 'arg unknown' }, '(command line unknown)')];
    this.args.replaceChildren(...chips);
    this.args.title = cmdline.join(' ');
  }

  destroy(): void {
    this.spark.destroy();
    this.el.remove();
  }
}

function setStat(node: HTMLElement, name: string, value: string): void {
  const text = `${name} ${value}`;
  if (node.dataset.text === text) return;
  node.dataset.text = text;
  node.replaceChildren(el('span', { className: 'mem-square' }), el('span', { className: 'name' }, name), el('span', { className: 'value' }, value));
}
