/*
 * flameview — the flame graph panel of the selected session: resident (or
 * mapped) bytes by the call stack that mapped them, for the whole session or
 * one process, live or at the scrubbed moment, and the A → B diff (growth
 * red, shrink blue) when a diff is marked. Drawn on a canvas by
 * flame-chart-js (bundled; see frontend/README.md for why that library).
 *
 * A click on a frame (or on a row of the list under the chart) filters the
 * address-space view to the ranges mapped by the stacks through that frame:
 * the App dims every other range. A second click, or "show all", clears it.
 * The panel also carries the session's export links (Trace Event JSON for
 * Perfetto, folded stacks for speedscope / flamegraph.pl, the summary).
 */
import { FlameChartContainer } from 'flame-chart-js';
import type { SessionState } from '../store';
import {
  buildFlame,
  bytesFromState,
  countFrames,
  describeFrame,
  FlameLayout,
  type FlameTree,
  liveGraph,
  refreshLive,
  stacksOf,
  topFrames,
  type FlameNode,
  type FlameValue,
} from '../flame';
import { FlameDrawPlugin } from './flameplugin';
import { StackBytesSet } from '../stackbytes';
import { procPidText } from '../endings';
import { formatBytes } from '../format';
import { el } from './dom';
import { Refresh } from './refresh';

/** Rows of the function list under the chart (it scrolls). */
const LIST_ROWS = 200;
const CHART_HEIGHT = 320;
/** How often the function list follows a live graph (ms). */
const LIST_EVERY_MS = 3000;
/** While the chart is wheeled or dragged, and this long after (ms), the
 * live function list waits: redoing its rows costs a frame's time, which
 * would show as a hitch in the zoom or the pan. */
const LIST_QUIET_MS = 1000;

/** A set of stack ids whose `${}` is a stable key (processview.ts signs its
 * paint options with a template string). */
export class StackSet extends Set<number> {
  constructor(
    ids: Iterable<number>,
    readonly label: string,
  ) {
    super(ids);
  }
  override toString(): string {
    return `flame:${this.label}:${[...this].join(',')}`;
  }
}

export interface FlameCallbacks {
  /** Show only the ranges of these stacks (null: all). */
  filter(stacks: StackSet | null): void;
}

export interface FlameInput {
  /** The session shown: live, or the state at the scrubbed moment. */
  session: SessionState | null;
  /** Scrubbed moment (ns), or null for live. */
  at: number | null;
  /** Marked A and B (ns), or null. */
  diff: readonly [number, number] | null;
  /** The current filter, to show it. */
  filter: StackSet | null;
}

export class FlameView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly toggle: HTMLButtonElement;
  private readonly pidSelect: HTMLSelectElement;
  private readonly valueSelect: HTMLSelectElement;
  private readonly status: HTMLElement;
  private readonly list: HTMLElement;
  private readonly filterNote: HTMLElement;
  private readonly links: HTMLElement;
  private chart: FlameChartContainer | null = null;
  private plugin: FlameDrawPlugin | null = null;
  private readonly refresh = new Refresh();
  /** The live tree, kept by differences while its key holds (session, pid,
   * value, stack table). */
  private live: { key: string; stacks: unknown; tree: FlameTree; layout: FlameLayout } | null = null;
  /** Bytes per stack of the processes shown, kept by the differences their
   * maps report (watched only while the panel shows a live tree). */
  private readonly bytes = new StackBytesSet();
  /** When the function list was last rebuilt (ms), and what it showed. */
  private listAt = 0;
  private listKey = '';
  /** When the chart was last wheeled or dragged (ms), and the timer of a
   * function list that waits for the end of it. */
  private interactedAt = -Infinity;
  private bodyWidth = 0;
  private listTimer: ReturnType<typeof setTimeout> | null = null;
  private total = 0;
  private open = false;
  private input: FlameInput | null = null;
  private sessionId: number | null = null;
  private root: FlameNode | null = null;
  private isDiff = false;
  private diffCache: { key: string; root: FlameNode | null; error: string | null } | null = null;
  /** Build time of the last tree + layout (ms), for the bench. */
  lastBuildMs = 0;
  /** Tree updates shown, for the bench. */
  private builds = 0;

  constructor(private readonly cb: FlameCallbacks) {
    this.toggle = el('button', { className: 'flame-toggle', type: 'button', title: 'Resident memory by the call stack that mapped it' }, '▸ Flame graph');
    this.toggle.addEventListener('click', () => this.setOpen(!this.open));
    this.pidSelect = el('select', { className: 'flame-pid', title: 'Whose memory' });
    this.pidSelect.addEventListener('change', () => this.invalidate());
    this.valueSelect = el('select', { className: 'flame-value', title: 'What the widths are' }, el('option', { value: 'resident' }, 'resident bytes'), el('option', { value: 'mapped' }, 'mapped bytes'));
    this.valueSelect.addEventListener('change', () => this.invalidate());
    this.status = el('span', { className: 'flame-status' });
    this.links = el('span', { className: 'flame-exports' });
    const head = el('div', { className: 'flame-head' }, this.toggle, this.links);
    this.filterNote = el('div', { className: 'flame-filter' });
    this.filterNote.hidden = true;
    this.canvas = el('canvas', { className: 'flame-canvas' });
    const interacting = (ev: Event): void => {
      if (ev.type !== 'pointermove' || (ev as PointerEvent).buttons !== 0) this.interactedAt = performance.now();
    };
    for (const type of ['wheel', 'pointerdown', 'pointermove']) this.canvas.addEventListener(type, interacting, { passive: true });
    this.list = el('div', { className: 'flame-list' });
    this.body = el('div', { className: 'flame-body' }, el('div', { className: 'flame-controls' }, this.pidSelect, this.valueSelect, this.status), this.filterNote, this.canvas, this.list);
    this.body.hidden = true;
    // The width, kept as it changes: reading it at each refresh would lay
    // out the page there and then.
    new ResizeObserver(() => {
      this.bodyWidth = this.body.clientWidth;
    }).observe(this.body);
    this.el = el('section', { className: 'flame' }, head, this.body);
    this.el.hidden = true;
  }

  private setOpen(open: boolean): void {
    this.open = open;
    this.body.hidden = !open;
    this.toggle.textContent = `${open ? '▾' : '▸'} Flame graph`;
    if (!open && this.input?.filter) this.cb.filter(null);
    this.invalidate();
  }

  private invalidate(): void {
    this.refresh.reset();
    if (this.input) this.update(this.input, true);
  }

  private value(): FlameValue {
    return this.valueSelect.value === 'mapped' ? 'mapped' : 'resident';
  }

  private pid(): number | null {
    const v = this.pidSelect.value;
    return v === '' ? null : Number(v);
  }

  /** Called at the App's text cadence. force: recompute now. */
  update(input: FlameInput, force = false): void {
    this.input = input;
    const s = input.session;
    this.el.hidden = !s;
    // A filter names stacks of one session: another session drops it.
    if ((s?.id ?? null) !== this.sessionId) {
      this.sessionId = s?.id ?? null;
      if (input.filter) this.cb.filter(null);
    }
    if (!s) return;
    this.renderLinks(s, input.at);
    this.renderFilter(input.filter);
    if (!this.open) {
      this.dropLive();
      return;
    }
    this.renderPidOptions(s);
    if (input.diff) {
      this.dropLive();
      this.updateDiff(s, input.diff);
      return;
    }
    // The key: what the tree depends on; costly trees at most once a second.
    let ver = `${s.id}|${input.at}|${this.pid()}|${this.value()}|${s.stacks.size}`;
    for (const p of s.processes.values()) ver += `|${p.pid}:${p.alive ? 1 : 0}:${p.map.version}:${p.origins.version}`;
    if (!this.refresh.due(ver, force)) return;
    const t0 = performance.now();
    const pid = this.pid();
    const value = this.value();
    // An ended session shows what each process held when it exited.
    const procs = [...s.processes.values()].filter((p) => (pid === null || p.pid === pid) && (p.alive || !s.alive));
    // The stacks whose bytes changed since the last refresh (the first one
    // walks each process once; then only what the maps reported).
    const changed = this.bytes.sync(procs);
    const key = `${s.id}|${input.at}|${pid}|${value}|${s.stacks.size}`;
    let fresh = false;
    if (!this.live || this.live.key !== key || this.live.stacks !== s.stacks || this.isDiff) {
      this.live = { key, stacks: s.stacks, ...liveGraph(pid === null ? `session ${s.id}` : `pid ${pid}`, s.stacks, this.bytes.all(value)) };
      fresh = true;
    } else if (refreshLive(this.live.tree, this.live.layout, changed, (id) => this.bytes.get(id, value)) === 'none') {
      // Else only the frames on the changed paths, and what sits right of
      // them, moved (new frames re-sort).
      this.refresh.measured();
      return;
    }
    const tree = this.live.tree;
    this.show(this.live.layout, false, t0, fresh, tree.frames, force, () => tree.top(LIST_ROWS));
    this.refresh.measured();
  }

  /** Forgets the live tree and stops following the maps (the panel is
   * closed or shows a diff). */
  private dropLive(): void {
    this.live = null;
    this.bytes.dispose();
  }

  private updateDiff(s: SessionState, d: readonly [number, number]): void {
    const pid = this.pid();
    const value = this.value();
    const key = `${s.id}:${d[0]}-${d[1]}:${pid}:${value}`;
    if (this.diffCache?.key === key) {
      const r = this.diffCache.root;
      if (r && this.root !== r) this.show(new FlameLayout(r, true), true, performance.now(), true, countFrames(r), true);
      this.status.textContent = this.diffCache.error ? `diff: ${this.diffCache.error}` : this.status.textContent;
      return;
    }
    this.diffCache = { key, root: null, error: null };
    this.status.textContent = 'diff: loading A and B…';
    const get = (at: number): Promise<unknown> =>
      fetch(`api/state?session=${s.id}&at=${at}`).then(async (r) => {
        const j = (await r.json()) as { error?: string };
        if (!r.ok) throw new Error(j.error ?? `HTTP ${r.status}`);
        return j;
      });
    void Promise.all([get(d[0]), get(d[1])])
      .then(([a, b]) => {
        if (this.diffCache?.key !== key) return;
        const t0 = performance.now();
        const A = bytesFromState(a, s.id, pid, value);
        const B = bytesFromState(b, s.id, pid, value);
        for (const [id, f] of A.stacks) if (!B.stacks.has(id)) B.stacks.set(id, f);
        const root = buildFlame(B.bytes, B.stacks, A.bytes, `A → B${pid === null ? '' : ` · pid ${pid}`}`);
        this.diffCache = { key, root, error: null };
        this.show(new FlameLayout(root, true), true, t0, true, countFrames(root), true);
      })
      .catch((err: unknown) => {
        if (this.diffCache?.key === key) this.diffCache = { key, root: null, error: String((err as Error).message ?? err) };
        this.status.textContent = `diff: ${String((err as Error).message ?? err)}`;
      });
  }

  /**
   * Draws a laid-out tree (and the list under it). fresh: another tree than
   * the one shown (the view resets); else the same frames with new bytes (the
   * zoom and position stay). The function list (200 DOM rows) is redone at
   * most every LIST_EVERY_MS while live, unless now, and not while the chart
   * is being zoomed or panned (see LIST_QUIET_MS).
   */
  private show(layout: FlameLayout, diff: boolean, t0: number, fresh: boolean, frames: number, now: boolean, top: () => FlameNode[] = () => topFrames(layout.root, LIST_ROWS)): void {
    const root = layout.root;
    this.root = root;
    this.isDiff = diff;
    this.lastBuildMs = performance.now() - t0;
    this.builds++;
    this.el.dataset.buildMs = this.lastBuildMs.toFixed(1);
    this.el.dataset.builds = String(this.builds);
    this.total = diff ? Math.max(root.value, root.before) : root.value;
    this.el.dataset.frames = String(frames);
    this.el.dataset.total = String(root.value);
    let status = diff ? `A ${formatBytes(root.before)} → B ${formatBytes(root.value)} · red grew, blue shrank` : `${formatBytes(root.value)} ${this.value()}`;
    if (this.total === 0) status += ' · nothing to show (no memory, or no backtraces: mevi-run --backtraces=mmap)';
    // Unchanged text is left alone (no style or layout work).
    if (this.status.textContent !== status) this.status.textContent = status;
    this.draw(layout, fresh);
    const t = performance.now();
    if (fresh || now) this.listNow(top, diff);
    else if (t - this.listAt >= LIST_EVERY_MS) this.listWhenQuiet(root, top, diff);
  }

  private listNow(top: () => FlameNode[], diff: boolean): void {
    if (this.listTimer) clearTimeout(this.listTimer);
    this.listTimer = null;
    this.listAt = performance.now();
    this.renderList(top(), diff);
  }

  /** The function list of root, now if the chart is left alone, else once
   * it has been for LIST_QUIET_MS (if root is still the one shown). */
  private listWhenQuiet(root: FlameNode, top: () => FlameNode[], diff: boolean): void {
    const wait = this.interactedAt + LIST_QUIET_MS - performance.now();
    if (wait <= 0) {
      this.listNow(top, diff);
      return;
    }
    if (this.listTimer) return;
    this.listTimer = setTimeout(() => {
      this.listTimer = null;
      if (this.open && this.root === root) this.listWhenQuiet(root, top, diff);
    }, wait);
  }

  private draw(layout: FlameLayout, fresh: boolean): void {
    const width = Math.max(200, this.bodyWidth || this.body.clientWidth || 800);
    if (!this.chart || !this.plugin) {
      this.canvas.width = width;
      this.canvas.height = CHART_HEIGHT;
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${CHART_HEIGHT}px`;
      this.plugin = new FlameDrawPlugin((n) => describeFrame(n, this.total, this.isDiff));
      this.plugin.setLayout(layout, true);
      this.chart = new FlameChartContainer({
        canvas: this.canvas,
        plugins: [this.plugin],
        settings: {
          options: { timeUnits: 'B' },
          styles: { main: { blockHeight: 18, font: '11px Iosevka, monospace', backgroundColor: '#14181e', fontColor: '#101010' } },
        },
      });
      this.plugin.on('select', (ev: { node: FlameNode | null }) => this.select(ev.node));
      this.chart.render();
      return;
    }
    if (this.canvas.width !== width) this.chart.resize(width, CHART_HEIGHT);
    this.plugin.setLayout(layout, fresh);
  }

  private select(n: FlameNode | null): void {
    if (!n || !this.root || n === this.root) {
      this.cb.filter(null);
      return;
    }
    const cur = this.input?.filter;
    const next = new StackSet(stacksOf(n), n.name);
    this.cb.filter(cur && cur.toString() === next.toString() ? null : next);
  }

  private renderList(top: FlameNode[], diff: boolean): void {
    // Unchanged rows are left alone (no DOM work).
    const key = `${diff}|${top.map((n) => `${n.name}:${n.value}:${n.before}`).join('|')}`;
    if (key === this.listKey) return;
    this.listKey = key;
    const rows = top.map((n) => {
      const d = n.value - n.before;
      const row = el(
        'div',
        { className: 'flame-row', title: 'click to show only the ranges its stacks mapped' },
        el('span', { className: 'flame-row-bytes' }, formatBytes(n.value)),
        diff ? el('span', { className: `flame-row-delta ${d > 0 ? 'grew' : d < 0 ? 'shrank' : ''}` }, `${d >= 0 ? '+' : '−'}${formatBytes(Math.abs(d))}`) : '',
        el('span', { className: 'flame-row-name' }, n.name),
      );
      row.dataset.frame = n.name;
      row.dataset.bytes = String(n.value);
      row.dataset.delta = String(d);
      row.addEventListener('click', () => this.select(n));
      return row;
    });
    this.list.replaceChildren(...rows);
  }

  private renderPidOptions(s: SessionState): void {
    const want = ['', ...[...s.processes.values()].filter((p) => p.alive || !s.alive).map((p) => String(p.pid))];
    const have = [...this.pidSelect.options].map((o) => o.value);
    const labels = want.map((p) => (p === '' ? '' : procPidText(s.id, Number(p)))).join(',');
    if (want.join(',') === have.join(',') && this.pidSelect.dataset.labels === labels) return;
    this.pidSelect.dataset.labels = labels;
    const cur = this.pidSelect.value;
    this.pidSelect.replaceChildren(
      el('option', { value: '' }, 'all processes'),
      ...[...s.processes.values()]
        .filter((p) => p.alive || !s.alive)
        .map((p) => el('option', { value: String(p.pid) }, `pid ${procPidText(s.id, p.pid)} ${(p.cmdline[0] ?? '').split('/').pop() ?? ''}`)),
    );
    this.pidSelect.value = want.includes(cur) ? cur : '';
  }

  private renderFilter(f: StackSet | null): void {
    this.filterNote.hidden = !f;
    if (!f) return;
    const clear = el('button', { type: 'button', className: 'flame-clear' }, '✕ show all');
    clear.addEventListener('click', () => this.cb.filter(null));
    this.filterNote.replaceChildren(`Showing only the ranges mapped through ${f.label} (${f.size} stack${f.size === 1 ? '' : 's'}) `, clear);
  }

  private renderLinks(s: SessionState, at: number | null): void {
    const pid = this.open ? this.pid() : null;
    const q = `${pid !== null ? `&pid=${pid}` : ''}${at !== null ? `&at=${at}` : ''}`;
    const key = `${s.id}|${q}`;
    if (this.links.dataset.key === key) return;
    this.links.dataset.key = key;
    const link = (format: string, label: string, title: string, extra = q): HTMLAnchorElement =>
      el('a', { className: 'flame-export', href: `api/sessions/${s.id}/export?format=${format}${extra}`, download: '', title }, label);
    this.links.replaceChildren(
      'Export: ',
      link('trace-event', 'Perfetto trace', 'Trace Event JSON: RSS counters per process and kind, mmap/munmap/exec events; opens in ui.perfetto.dev and chrome://tracing', pid !== null ? `&pid=${pid}` : ''),
      link('folded', 'folded stacks', 'Collapsed stacks of resident bytes: speedscope, flamegraph.pl, inferno'),
      link('summary', 'summary', 'The end-of-run summary (as mevi-run --summary)', ''),
    );
  }
}
