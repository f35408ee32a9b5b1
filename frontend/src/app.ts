/*
 * app — wires the connection, the store and the views together.
 *
 * Messages are applied as they arrive (or queued while paused); drawing
 * happens once per animation frame, and only for what changed. The process
 * order (tree, siblings by RSS) is recomputed when processes come or go and
 * at most once a second otherwise, so blocks do not jump around at 30 Hz.
 */
import { Connection, streamUrl, type LinkStatus } from './connection';
import { decodeServerMessage, ProtocolError } from './protocol';
import { Store, processKey, type ProcessState, type SessionState } from './store';
import { buildTree, type TreeRow } from './tree';
import { parseViewState, serializeViewState, type ViewState } from './urlstate';
import { keyAction } from './keyboard';
import { describeHit } from './describe';
import { PAGE } from './layout';
import type { Hit } from './render/mapcanvas';
import { PauseQueue } from './pausequeue';
import { bannerFor, emptyStateFor, type StatusInput } from './status';
import { el } from './ui/dom';
import { TopBar } from './ui/topbar';
import { buildHelp } from './ui/help';
import { Tooltip } from './ui/tooltip';
import { ProcessView } from './ui/processview';
import { SessionView } from './ui/sessionview';
import { StatusView } from './ui/statusview';

/** Queued bytes while paused before the queue is dropped in favour of a fresh snapshot. */
const PAUSE_QUEUE_LIMIT = 64 * 1024 * 1024;
const REORDER_INTERVAL_MS = 1000;
/** Text, charts and totals refresh at most this often; canvases every frame. */
const SLOW_INTERVAL_MS = 200;
/** Canvas redraws stop for this frame once this much time went by (ms). */
const FRAME_BUDGET_MS = 8;
const INDENT_PX = 18;

export class App {
  readonly store = new Store();
  private view: ViewState;
  private readonly conn: Connection;
  private readonly url: string;
  private link: LinkStatus = 'connecting';
  private linkDetail = { attempt: 0, retryInMs: null as number | null, everConnected: false };
  private lastLiveAt = 0;

  private readonly pause = new PauseQueue(PAUSE_QUEUE_LIMIT);
  private receivedAt = performance.now();

  private readonly topbar: TopBar;
  private readonly status: StatusView;
  private readonly main: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly help: HTMLElement;
  private readonly tooltip: Tooltip;
  private readonly sessionViews = new Map<number, SessionView>();
  private readonly processViews = new Map<string, ProcessView>();
  private readonly observer: IntersectionObserver;

  private orderDirty = true;
  private lastOrderAt = 0;
  private order: { session: SessionState; rows: TreeRow<ProcessState>[] }[] = [];
  private renderDirty = true;
  private framePending = false;
  private lastSlowAt = 0;
  private forceSlow = true;
  private slowTimer: ReturnType<typeof setTimeout> | null = null;
  private mainWidth = 800;

  constructor(private readonly root: HTMLElement) {
    this.view = parseViewState(location.search);
    this.url = streamUrl(location);
    this.topbar = new TopBar({
      setShowGaps: (v) => this.setView({ showGaps: v }),
      setShowNonResident: (v) => this.setView({ showNonResident: v }),
      setFilter: (q) => this.setView({ q }, true),
      togglePause: () => this.togglePause(),
      toggleHelp: () => this.toggleHelp(),
    });
    this.status = new StatusView((session) => this.setView({ session, zoom: null }));
    this.empty = this.status.empty;
    this.main = el('main', { className: 'main' }, this.empty);
    this.help = buildHelp(() => this.toggleHelp(false));
    root.append(this.topbar.el, this.status.nav, this.status.banner, this.main, this.help);
    this.tooltip = new Tooltip(document.body);
    this.topbar.setOptions(this.view.showGaps, this.view.showNonResident, this.view.q);

    this.observer = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const key = (e.target as HTMLElement).dataset.key;
          const v = key ? this.processViews.get(key) : undefined;
          if (v) v.visible = e.isIntersecting;
        }
        this.renderDirty = true; // a block scrolled into view may need its first draw
        this.schedule();
      },
      { rootMargin: '400px 0px' },
    );
    new ResizeObserver(() => {
      this.mainWidth = this.main.clientWidth;
      this.renderDirty = true;
      this.schedule();
    }).observe(this.main);

    document.addEventListener('keydown', (ev) => this.onKey(ev));
    window.addEventListener('popstate', () => {
      this.view = parseViewState(location.search);
      this.topbar.setOptions(this.view.showGaps, this.view.showNonResident, this.view.q);
      this.orderDirty = true;
      this.renderDirty = true;
      this.schedule();
    });
    // Clock-driven text ("running for 12 s") and the periodic re-sort.
    setInterval(() => {
      this.renderDirty = true;
      this.schedule();
    }, 1000);

    this.conn = new Connection(this.url, {
      onMessage: (data) => this.onMessage(data),
      onStatus: (status, detail) => {
        this.link = status;
        this.linkDetail = detail;
        if (status === 'live') this.lastLiveAt = Date.now();
        if (status === 'offline' && this.store.synced) this.store.synced = false;
        this.renderDirty = true;
        this.forceSlow = true;
        this.schedule();
      },
    });
  }

  start(): void {
    this.conn.start();
    this.schedule();
  }

  /** Redraws every canvas (after the fonts arrive, text widths change). */
  redrawAll(): void {
    for (const v of this.processViews.values()) v.invalidate();
    this.renderDirty = true;
    this.schedule();
  }

  // ---- data -------------------------------------------------------------

  private onMessage(data: ArrayBuffer): void {
    // While paused, hold messages back; the first snapshot always applies so
    // that a page opened paused still has something to show.
    if (this.store.generation > 0 && this.pause.offer(data)) {
      this.renderDirty = true;
      this.schedule();
      return;
    }
    this.apply(data);
  }

  private apply(data: ArrayBuffer): void {
    try {
      const msg = decodeServerMessage(data);
      if (msg.kind === 'snapshot') this.store.applySnapshot(msg);
      else this.store.applyDelta(msg);
      this.receivedAt = performance.now();
    } catch (err) {
      const why = err instanceof ProtocolError ? err.message : String(err);
      this.store.errors++;
      this.store.lastError = `bad frame from mevid: ${why}`;
      console.error('mevi:', this.store.lastError);
      // The state may now be out of step with mevid: start over from a snapshot.
      this.conn.resync();
    }
    this.renderDirty = true;
    this.schedule();
  }

  private togglePause(): void {
    if (!this.pause.paused) {
      this.pause.paused = true;
    } else {
      const { messages, resync } = this.pause.resume();
      if (resync) this.conn.resync();
      else for (const d of messages) this.apply(d);
    }
    this.renderDirty = true;
    this.forceSlow = true;
    this.schedule();
  }

  // ---- view state -------------------------------------------------------

  private setView(patch: Partial<ViewState>, replaceOnly = false): void {
    this.view = { ...this.view, ...patch };
    const search = serializeViewState(this.view);
    const target = `${location.pathname}${search}`;
    if (`${location.pathname}${location.search}` !== target) {
      if (replaceOnly) history.replaceState(null, '', target);
      else history.pushState(null, '', target);
    }
    this.orderDirty = true;
    this.renderDirty = true;
    this.forceSlow = true;
    for (const v of this.processViews.values()) v.invalidate();
    this.schedule();
  }

  private toggleHelp(force?: boolean): void {
    this.help.hidden = !(force ?? this.help.hidden);
  }

  private onKey(ev: KeyboardEvent): void {
    const t = ev.target as HTMLElement | null;
    const typing = !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    const action = keyAction(ev, typing && (t as HTMLInputElement).type !== 'checkbox');
    if (!action) return;
    ev.preventDefault();
    switch (action) {
      case 'pause':
        this.togglePause();
        break;
      case 'focus-filter':
        this.topbar.filter.focus();
        this.topbar.filter.select();
        break;
      case 'help':
        this.toggleHelp();
        break;
      case 'escape':
        if (!this.help.hidden) this.toggleHelp(false);
        else if (this.view.zoom) this.setView({ zoom: null });
        else if (typing) {
          if (this.topbar.filter.value) {
            this.topbar.filter.value = '';
            this.setView({ q: '' }, true);
          }
          this.topbar.filter.blur();
        }
        break;
    }
  }

  // ---- interaction on the maps -------------------------------------------

  private onHover(view: ProcessView, hit: Hit | null, ev: MouseEvent): void {
    if (!hit) {
      this.tooltip.hide();
      view.canvas.canvas.style.cursor = '';
      return;
    }
    const layout = view.canvas.layoutOf(view.proc.map);
    const lines = describeHit(view.proc.map, layout.extents, hit);
    view.canvas.canvas.style.cursor = hit.kind === 'gap' ? 'default' : 'pointer';
    if (lines) this.tooltip.show([`pid ${view.proc.pid} · ${lines[0]}`, ...lines.slice(1)], ev.clientX, ev.clientY);
    else this.tooltip.hide();
  }

  private onClick(view: ProcessView, hit: Hit): void {
    const { sessionId, pid } = view.proc;
    if (hit.kind === 'group') {
      const end = Math.ceil(hit.groupEnd / PAGE) * PAGE;
      this.setView({ zoom: { sessionId, pid, start: hit.groupStart, end } });
    } else if (hit.kind === 'zoom-header') {
      this.setView({ zoom: null });
    } else if (hit.kind === 'zoom-cell' && hit.pagesPerCell > 1) {
      this.setView({ zoom: { sessionId, pid, start: hit.rowStart, end: hit.rowEnd } });
    }
    this.tooltip.hide();
  }

  // ---- drawing ----------------------------------------------------------

  private schedule(): void {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      this.frame();
    });
  }

  private frame(): void {
    const t0 = performance.now();
    if (this.store.takeStructureChanged()) this.orderDirty = true;
    const dirty = this.store.takeDirty();
    if (!this.renderDirty && dirty.size === 0 && !this.orderDirty) return;
    this.renderDirty = false;

    if (this.orderDirty || (dirty.size > 0 && t0 - this.lastOrderAt > REORDER_INTERVAL_MS)) {
      this.computeOrder();
      this.reconcile();
      this.orderDirty = false;
      this.lastOrderAt = t0;
      this.forceSlow = true;
    }
    const slow = this.forceSlow || t0 - this.lastSlowAt >= SLOW_INTERVAL_MS;
    if (slow) {
      this.lastSlowAt = t0;
      this.forceSlow = false;
      this.renderTopBar();
      const st = this.statusInput();
      this.status.renderNav([...this.store.sessions.values()], this.view.session);
      this.status.renderBanner(bannerFor(st));
      this.status.renderEmpty(emptyStateFor(st));
    } else if (!this.slowTimer) {
      // Make sure the text catches up even if no more data arrives.
      this.slowTimer = setTimeout(() => {
        this.slowTimer = null;
        this.renderDirty = true;
        this.schedule();
      }, SLOW_INTERVAL_MS - (t0 - this.lastSlowAt));
    }

    const opts = { showGaps: this.view.showGaps, showNonResident: this.view.showNonResident };
    const views: ProcessView[] = [];
    for (const { session, rows } of this.order) {
      const sv = this.sessionViews.get(session.id);
      const elapsed = this.elapsedNs(session);
      if (slow) sv?.render(session, elapsed, rows.length, this.view.q.trim() !== '');
      for (const row of rows) {
        const key = processKey(session.id, row.proc.pid);
        const pv = this.processViews.get(key);
        if (!pv) continue;
        const z = this.view.zoom;
        const zoom = z && z.sessionId === session.id && z.pid === row.proc.pid ? { start: z.start, end: z.end } : null;
        pv.update(
          {
            proc: row.proc,
            depth: row.depth,
            descendants: row.descendants,
            role: row.role,
            collapsed: this.view.collapsed.has(key),
            opts,
            zoom,
            width: this.mainWidth - 24 - row.depth * INDENT_PX,
            nowTs: elapsed,
          },
          slow,
        );
        views.push(pv);
      }
    }
    // Redraw stale canvases round-robin within the frame budget; what does not
    // fit is drawn next frame, so many busy processes lower each one's update
    // rate instead of the page's frame rate.
    let drawn = 0;
    const n = views.length;
    const from = n ? this.drawCursor % n : 0;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      const pv = views[i]!;
      if (!pv.stale) continue;
      if (drawn > 0 && performance.now() - t0 > FRAME_BUDGET_MS) {
        this.drawCursor = i;
        this.renderDirty = true;
        this.schedule();
        break;
      }
      pv.draw();
      drawn++;
    }
    if (drawn > 0) performance.measure('mevi:frame', { start: t0, end: performance.now() });
  }

  private drawCursor = 0;

  private elapsedNs(s: SessionState): number {
    if (!s.alive || s.startedAt === 0n || this.store.serverNow === 0n) return s.lastTs;
    const sinceStart = Number(this.store.serverNow - s.startedAt);
    const local = this.pause.paused ? 0 : (performance.now() - this.receivedAt) * 1e6;
    return Math.max(s.lastTs, sinceStart + local);
  }

  private visibleSessions(): SessionState[] {
    const all = [...this.store.sessions.values()].sort((a, b) => (a.alive !== b.alive ? (a.alive ? -1 : 1) : b.id - a.id));
    if (this.view.session === null) return all;
    return all.filter((s) => s.id === this.view.session);
  }

  private computeOrder(): void {
    this.order = this.visibleSessions().map((session) => {
      const rows = buildTree([...session.processes.values()], {
        query: this.view.q,
        collapsed: (pid) => this.view.collapsed.has(processKey(session.id, pid)),
        rss: (p) => p.map.rss,
      });
      return { session, rows };
    });
  }

  /** Makes the DOM match this.order: creates, moves and removes session and process views. */
  private reconcile(): void {
    const wantSessions = new Set(this.order.map((o) => o.session.id));
    for (const [id, sv] of this.sessionViews) {
      if (!wantSessions.has(id)) {
        sv.destroy();
        this.sessionViews.delete(id);
      }
    }
    const wantProcs = new Set<string>();
    let prevSession: Element | null = null;
    for (const { session, rows } of this.order) {
      let sv = this.sessionViews.get(session.id);
      if (!sv) {
        sv = new SessionView(session.id);
        this.sessionViews.set(session.id, sv);
      }
      sv.resizeChart(this.mainWidth);
      const expected: Element | null = prevSession ? prevSession.nextElementSibling : this.empty.nextElementSibling;
      if (expected !== sv.el) (prevSession ?? this.empty).after(sv.el);
      prevSession = sv.el;

      let prev: Element | null = null;
      for (const row of rows) {
        const key = processKey(session.id, row.proc.pid);
        wantProcs.add(key);
        let pv = this.processViews.get(key);
        if (pv && pv.proc !== row.proc) {
          // Same pid, new process (pid reuse, exec after resume): start afresh.
          pv.destroy();
          this.observer.unobserve(pv.el);
          pv = undefined;
        }
        if (!pv) {
          pv = new ProcessView(key, row.proc, {
            toggleCollapsed: (k) => this.toggleCollapsed(k),
            hover: (v, hit, ev) => this.onHover(v, hit, ev),
            click: (v, hit) => this.onClick(v, hit),
          });
          this.processViews.set(key, pv);
          this.observer.observe(pv.el);
        }
        const want: Element | null = prev ? prev.nextElementSibling : sv.list.firstElementChild;
        if (want !== pv.el) {
          if (prev) prev.after(pv.el);
          else sv.list.prepend(pv.el);
        }
        prev = pv.el;
      }
    }
    for (const [key, pv] of this.processViews) {
      if (!wantProcs.has(key)) {
        this.observer.unobserve(pv.el);
        pv.destroy();
        this.processViews.delete(key);
      }
    }
  }

  private toggleCollapsed(key: string): void {
    const c = new Set(this.view.collapsed);
    if (c.has(key)) c.delete(key);
    else c.add(key);
    this.setView({ collapsed: c });
  }

  private renderTopBar(): void {
    const t = this.store.totals();
    this.topbar.setTotals(t.rss, t.vsz);
    const text = this.link === 'live' ? 'LIVE' : this.link === 'connecting' ? 'CONNECTING' : 'OFFLINE';
    this.topbar.setLink(this.link, text);
    this.topbar.setPaused(this.pause.paused, this.pause.length);
  }

  private statusInput(): StatusInput {
    return {
      link: this.link,
      everConnected: this.linkDetail.everConnected,
      retryInMs: this.linkDetail.retryInMs,
      lastLiveAt: this.lastLiveAt,
      url: this.url,
      paused: this.pause.paused,
      queued: this.pause.length,
      queueOverflow: this.pause.overflow,
      errors: this.store.errors,
      lastError: this.store.lastError,
      hasData: this.store.generation > 0,
      sessions: this.store.sessions.size,
      selectedSession: this.view.session,
      selectedKnown: this.view.session !== null && this.store.sessions.has(this.view.session),
    };
  }
}
