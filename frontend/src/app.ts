/*
 * app — wires the connection, the store and the views together.
 *
 * Messages are applied as they arrive (or queued while paused); drawing
 * happens once per animation frame, and only for what changed. The process
 * order (tree, siblings by RSS) is recomputed when processes come or go and
 * at most once a second otherwise, so blocks do not jump around at 30 Hz.
 */
import { Connection, streamUrl, type LinkStatus } from './connection';
import { decodeServerMessage, peekKind, ProtocolError, type MomentMessage } from './protocol';
import { Store, processKey, type ProcessState, type SessionState } from './store';
import { buildTree, type TreeRow } from './tree';
import { parseViewState, serializeViewState, type ViewState } from './urlstate';
import { keyAction } from './keyboard';
import { describeHit, describeVma, formatThread, originLine, type AnnotationContext } from './describe';
import { DetailPanel, type Details } from './ui/detailpanel';
import { PAGE } from './layout';
import type { Hit } from './render/mapcanvas';
import { PauseQueue } from './pausequeue';
import { bannerFor, emptyStateFor, type StatusInput } from './status';
import { checkAccess, takeToken, type Refusal } from './access';
import { el } from './ui/dom';
import { TopBar } from './ui/topbar';
import { buildHelp } from './ui/help';
import { Tooltip } from './ui/tooltip';
import { ProcessView } from './ui/processview';
import { SessionView } from './ui/sessionview';
import { StatusView } from './ui/statusview';
import { TimelineView } from './ui/timeline';
import { SeekCoalescer, seekRequest } from './seek';
import { advance, mergeCurve, parseTimeline, stepSpeed, type TimelineData } from './timeline';
import { diffStates, diffTotals, type DiffRange, type DiffTotals } from './diff';
import { uploadRecording } from './upload';
import { FlameView, type StackSet } from './ui/flameview';
import { HeatBar } from './ui/heatbar';
import { onHeatChange, setHeatSiteNamer } from './heat';
import { facts, onFacts, procPidText } from './endings';

/** Queued bytes while paused before the queue is dropped in favour of a fresh snapshot. */
const PAUSE_QUEUE_LIMIT = 64 * 1024 * 1024;
const REORDER_INTERVAL_MS = 1000;
/** Text, charts and totals refresh at most this often; canvases every frame. */
const SLOW_INTERVAL_MS = 200;
/** Canvas redraws stop for this frame once this much time went by (ms). */
const FRAME_BUDGET_MS = 8;
const INDENT_PX = 18;
/** How often the timeline (markers, RSS curve) of a running session is refetched. */
const TIMELINE_REFRESH_MS = 2000;
/** While dragging or replaying, the URL's `at` is rewritten at most this often. */
const URL_THROTTLE_MS = 400;

/** What the tab shows of the past: the last moment mevid sent for the selected session. */
interface Moment {
  msg: MomentMessage;
  state: SessionState | null;
  error: string | null;
}

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

  private readonly timeline: TimelineView;
  private readonly seeker: SeekCoalescer;
  private moment: Moment | null = null;
  private tl: { sessionId: number; data: TimelineData | null; error: string | null; fetchedAt: number; loading: boolean } | null = null;
  private playing = false;
  private speed = 1;
  private playLast = 0;
  private urlTimer: ReturnType<typeof setTimeout> | null = null;
  private lastUrlAt = 0;
  private diffMarks: { a: number | null; b: number | null } = { a: null, b: null };
  private diff: { key: string; ranges: Map<number, DiffRange[]> | null; totals: DiffTotals | null; error: string | null } | null = null;
  private readonly uploadStatus: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private readonly details: DetailPanel;
  /** The flame graph panel, and the frame whose ranges it filters the view to. */
  private readonly flame: FlameView;
  private flameFilter: StackSet | null = null;
  /** The address the detail panel shows, to refresh it as the process changes. */
  private detailsAt: { sessionId: number; pid: number; addr: number } | null = null;

  constructor(private readonly root: HTMLElement) {
    this.view = parseViewState(location.search);
    this.url = streamUrl(location);
    this.topbar = new TopBar({
      setShowGaps: (v) => this.setView({ showGaps: v }),
      setShowNonResident: (v) => this.setView({ showNonResident: v }),
      setBySite: (v) => this.setView({ bySite: v, site: v ? this.view.site : null }),
      setFilter: (q) => this.setView({ q }, true),
      togglePause: () => this.togglePause(),
      toggleHelp: () => this.toggleHelp(),
      openRecording: () => this.fileInput.click(),
    });
    this.timeline = new TimelineView({
      scrub: (at, final) => {
        this.playing = false;
        this.seekTo(at, final);
      },
      stepPrev: () => this.step(-1),
      stepNext: () => this.step(1),
      live: () => this.goLive(),
      togglePlay: () => this.togglePlay(),
      setSpeed: (v) => {
        this.speed = v;
        this.forceSlow = true;
        this.schedule();
      },
      markA: () => this.markDiff('a'),
      markB: () => this.markDiff('b'),
      clearDiff: () => {
        this.diffMarks = { a: null, b: null };
        this.setView({ diff: null });
      },
    });
    this.seeker = new SeekCoalescer((t) => this.conn.send(seekRequest(t)));
    this.uploadStatus = el('div', { className: 'upload-status', role: 'status' });
    this.uploadStatus.hidden = true;
    this.fileInput = el('input', { type: 'file', accept: '.mevi,application/octet-stream', className: 'file-input' });
    this.fileInput.hidden = true;
    this.fileInput.addEventListener('change', () => {
      const f = this.fileInput.files?.[0];
      if (f) void this.upload(f);
      this.fileInput.value = '';
    });
    this.status = new StatusView((session) => this.setView({ session, zoom: null }));
    this.empty = this.status.empty;
    this.main = el('main', { className: 'main' }, this.empty);
    this.help = buildHelp(() => this.toggleHelp(false));
    this.details = new DetailPanel({
      close: () => this.closeDetails(),
      showSite: (id) => this.setView({ bySite: true, site: id }),
    });
    this.flame = new FlameView({
      filter: (f) => {
        this.flameFilter = f;
        for (const v of this.processViews.values()) v.invalidate();
        this.renderDirty = true;
        this.forceSlow = true;
        this.schedule();
      },
    });
    root.append(this.topbar.el, this.status.nav, this.timeline.el, this.flame.el, this.uploadStatus, this.status.banner, this.main, this.details.el, this.help, this.fileInput);
    this.installDrop();
    this.tooltip = new Tooltip(document.body);
    this.topbar.setOptions(this.view.showGaps, this.view.showNonResident, this.view.q, this.view.bySite);
    // Heat (issue 13): its controls, its redraws, and how to name a call site.
    this.topbar.el.insertBefore(new HeatBar().el, this.topbar.filter.previousSibling);
    onHeatChange(() => this.setView({}));
    // What mevid says and the stream does not (endings.ts): redraw when it arrives.
    onFacts(() => {
      this.forceSlow = true;
      this.setView({});
    });
    setHeatSiteNamer((sid, id) => {
      const frames = this.store.sessions.get(sid)?.stacks.get(id) ?? [];
      return (frames.find((f) => f.func && !/libc\.so/.test(f.module)) ?? frames[0])?.func || `stack ${id}`;
    });

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
      this.timeline.resize(this.mainWidth - 24);
      this.renderDirty = true;
      this.schedule();
    }).observe(this.main);

    document.addEventListener('keydown', (ev) => this.onKey(ev));
    window.addEventListener('popstate', () => {
      this.view = parseViewState(location.search);
      this.playing = false;
      this.moment = null;
      if (this.view.at !== null && this.view.session !== null) this.seeker.request(this.view.session, this.view.at);
      this.topbar.setOptions(this.view.showGaps, this.view.showNonResident, this.view.q, this.view.bySite);
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
        if (status === 'live') {
          this.lastLiveAt = Date.now();
          // A new connection: nothing is in flight; ask again for the moment shown.
          this.seeker.reset();
          if (this.view.at !== null && this.view.session !== null) this.seeker.request(this.view.session, this.view.at);
        }
        if (status === 'offline' && this.store.synced) this.store.synced = false;
        if (status === 'live') this.refusal = null;
        if (status === 'offline') this.askWhyRefused();
        this.renderDirty = true;
        this.forceSlow = true;
        this.schedule();
      },
    });
  }

  start(): void {
    // The token leaves the address bar before anything else happens, and is
    // traded for the cookie before the websocket opens.
    const token = takeToken(location, history);
    this.token = token;
    this.schedule();
    void (token ? checkAccess(token) : Promise.resolve(null)).then((refusal) => {
      this.refusal = refusal;
      this.conn.start();
    });
  }

  private refusal: Refusal | null = null;
  private asking = false;
  /** The URL's token, kept to trade again if mevid was away at the first try. */
  private token: string | null = null;

  /** The websocket failed: asks mevid whether it refuses us, and why. */
  private askWhyRefused(): void {
    if (this.asking) return;
    this.asking = true;
    void checkAccess(this.token).then((refusal) => {
      this.asking = false;
      this.refusal = refusal;
      this.renderDirty = true;
      this.schedule();
    });
  }

  /** Redraws every canvas (after the fonts arrive, text widths change). */
  redrawAll(): void {
    for (const v of this.processViews.values()) v.invalidate();
    this.renderDirty = true;
    this.schedule();
  }

  // ---- data -------------------------------------------------------------

  private onMessage(data: ArrayBuffer): void {
    // Moments answer this tab's seeks: never held back by pause.
    if (peekKind(data) === 2) {
      this.onMoment(data);
      return;
    }
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
      else if (msg.kind === 'delta') this.store.applyDelta(msg);
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

  // ---- the past: seek, step, replay, live ---------------------------------

  private onMoment(data: ArrayBuffer): void {
    this.seeker.answered();
    let msg: MomentMessage;
    try {
      const m = decodeServerMessage(data);
      if (m.kind !== 'moment') return;
      msg = m;
    } catch (err) {
      const why = err instanceof ProtocolError ? err.message : String(err);
      this.store.errors++;
      this.store.lastError = `bad moment from mevid: ${why}`;
      console.error('mevi:', this.store.lastError);
      return;
    }
    if (this.view.at === null || msg.sessionId !== this.view.session) return; // went live meanwhile
    const state = typeof msg.session === 'string' ? null : this.store.buildSession(msg.session, msg.version);
    this.moment = { msg, state, error: typeof msg.session === 'string' ? msg.session : null };
    this.orderDirty = true;
    this.renderDirty = true;
    this.forceSlow = true;
    this.schedule();
  }

  /** The past state shown for a session, when it is shown in the past. */
  private pastState(sessionId: number): SessionState | null {
    const m = this.moment;
    if (this.view.at === null || this.view.session !== sessionId || !m || m.msg.sessionId !== sessionId) return null;
    return m.state;
  }

  /** Right end of the timeline: the session's last event, or now while it runs. */
  private timelineEnd(sessionId: number): number {
    const live = this.store.sessions.get(sessionId);
    let end = Math.max(this.tl?.sessionId === sessionId ? (this.tl.data?.endTs ?? 0) : 0, live?.lastTs ?? 0);
    if (live?.alive) end = Math.max(end, this.elapsedNs(live));
    if (this.moment?.msg.sessionId === sessionId) end = Math.max(end, this.moment.msg.endTs);
    return Math.max(1, end);
  }

  /** Shows the selected session at `at` (ns since it began). */
  private seekTo(at: number, final = true): void {
    const session = this.view.session;
    if (session === null) return;
    at = Math.max(0, Math.min(Math.round(at), this.timelineEnd(session)));
    const wasLive = this.view.at === null;
    this.view = { ...this.view, at };
    this.seeker.request(session, at);
    this.syncUrl(final || wasLive);
    if (wasLive) {
      for (const v of this.processViews.values()) v.invalidate();
      this.orderDirty = true;
    }
    this.renderDirty = true;
    this.forceSlow = true;
    this.schedule();
  }

  /** Rewrites the URL now (final) or soon (while dragging / replaying). */
  private syncUrl(now: boolean): void {
    const write = (): void => {
      this.urlTimer = null;
      this.lastUrlAt = performance.now();
      const target = `${location.pathname}${serializeViewState(this.view)}`;
      if (`${location.pathname}${location.search}` !== target) history.replaceState(null, '', target);
    };
    if (now || performance.now() - this.lastUrlAt > URL_THROTTLE_MS) {
      if (this.urlTimer) clearTimeout(this.urlTimer);
      write();
    } else if (!this.urlTimer) {
      this.urlTimer = setTimeout(write, URL_THROTTLE_MS);
    }
  }

  private goLive(): void {
    this.playing = false;
    this.moment = null;
    this.seeker.reset();
    if (this.view.at === null) return;
    this.setView({ at: null }, true);
  }

  private step(dir: 1 | -1): void {
    const session = this.view.session;
    if (session === null) return;
    const m = this.moment && this.moment.msg.sessionId === session && this.view.at !== null ? this.moment.msg : null;
    this.playing = false;
    if (dir < 0) {
      if (m) this.seekTo(m.prevTs);
      else if (this.view.at === null) {
        // From live: the state just before the last event.
        const live = this.store.sessions.get(session);
        const last = Math.max(live?.lastTs ?? 0, this.tl?.sessionId === session ? (this.tl.data?.endTs ?? 0) : 0);
        if (last > 0) this.seekTo(last - 1);
      }
    } else if (m) {
      if (m.nextTs > m.ts) this.seekTo(m.nextTs);
      else if (this.store.sessions.get(session)?.alive) this.goLive();
    }
  }

  private togglePlay(): void {
    const session = this.view.session;
    if (session === null) return;
    if (this.playing) {
      this.playing = false;
      this.syncUrl(true);
    } else {
      this.playing = true;
      const end = this.timelineEnd(session);
      // From live or the end, a replay starts at the beginning.
      if (this.view.at === null || this.view.at >= end) this.seekTo(0);
      this.playLast = performance.now();
      this.playTick();
    }
    this.forceSlow = true;
    this.schedule();
  }

  private playTick(): void {
    if (!this.playing) return;
    requestAnimationFrame(() => {
      if (!this.playing) return;
      const session = this.view.session;
      if (session === null || this.view.at === null) {
        this.playing = false;
        return;
      }
      const t = performance.now();
      const dt = t - this.playLast;
      this.playLast = t;
      const end = this.timelineEnd(session);
      const r = advance(this.view.at, dt, this.speed, end);
      this.seekTo(r.at, r.done);
      if (r.done) {
        this.playing = false;
        if (this.store.sessions.get(session)?.alive) this.goLive();
      }
      this.playTick();
    });
  }

  private markDiff(which: 'a' | 'b'): void {
    const session = this.view.session;
    if (session === null) return;
    const t = this.view.at ?? this.timelineEnd(session);
    if (this.view.diff) this.diffMarks = { a: this.view.diff[0], b: this.view.diff[1] };
    this.diffMarks[which] = t;
    const { a, b } = this.diffMarks;
    if (a !== null && b !== null) {
      this.setView({ diff: [a, b] });
      this.seekTo(b);
    } else {
      this.forceSlow = true;
      this.schedule();
    }
  }

  /** Fetches the two states of the diff when it changed. */
  private refreshDiff(): void {
    const session = this.view.session;
    const d = this.view.diff;
    if (session === null || !d) {
      if (this.diff) {
        this.diff = null;
        for (const v of this.processViews.values()) v.invalidate();
      }
      return;
    }
    const key = `${session}:${d[0]}-${d[1]}`;
    if (this.diff?.key === key) return;
    this.diff = { key, ranges: null, totals: null, error: null };
    const get = (at: number): Promise<unknown> =>
      fetch(`api/state?session=${session}&at=${at}`).then(async (r) => {
        const j = (await r.json()) as { error?: string };
        if (!r.ok) throw new Error(j.error ?? `HTTP ${r.status}`);
        return j;
      });
    void Promise.all([get(d[0]), get(d[1])])
      .then(([a, b]) => {
        if (this.diff?.key !== key) return;
        const ranges = diffStates(a, b, session);
        const all: DiffRange[] = [];
        for (const r of ranges.values()) all.push(...r);
        this.diff = { key, ranges, totals: diffTotals(all), error: null };
      })
      .catch((err: unknown) => {
        if (this.diff?.key === key) this.diff = { key, ranges: new Map(), totals: null, error: String((err as Error).message ?? err) };
      })
      .finally(() => {
        for (const v of this.processViews.values()) v.invalidate();
        this.renderDirty = true;
        this.forceSlow = true;
        this.schedule();
      });
  }

  /** Fetches the selected session's timeline when it changed or is stale. */
  private refreshTimeline(): void {
    const session = this.view.session;
    if (session === null || !this.store.sessions.has(session)) return;
    const live = this.store.sessions.get(session)!;
    const cur = this.tl;
    const now = performance.now();
    if (cur && cur.sessionId === session && (cur.loading || !live.alive || now - cur.fetchedAt < TIMELINE_REFRESH_MS)) {
      if (!(cur.data && !live.alive && cur.data.endTs < live.lastTs && now - cur.fetchedAt > TIMELINE_REFRESH_MS)) return;
    }
    const entry = { sessionId: session, data: cur?.sessionId === session ? cur.data : null, error: null as string | null, fetchedAt: now, loading: true };
    this.tl = entry;
    void fetch(`api/sessions/${session}/timeline`)
      .then(async (r) => {
        const j: unknown = await r.json();
        if (!r.ok) throw new Error((j as { error?: string }).error ?? `HTTP ${r.status}`);
        entry.data = parseTimeline(j);
        entry.error = null;
      })
      .catch((err: unknown) => {
        entry.error = String((err as Error).message ?? err);
      })
      .finally(() => {
        entry.loading = false;
        entry.fetchedAt = performance.now();
        this.forceSlow = true;
        this.renderDirty = true;
        this.schedule();
      });
  }

  private renderTimeline(): void {
    const session = this.view.session;
    const live = session === null ? undefined : this.store.sessions.get(session);
    if (session === null || !live) {
      this.timeline.render(null);
      return;
    }
    this.refreshTimeline();
    this.refreshDiff();
    const tl = this.tl?.sessionId === session ? this.tl : null;
    const m = this.moment?.msg.sessionId === session && this.view.at !== null ? this.moment : null;
    let note: string | null = null;
    if (tl?.error) note = tl.error;
    else if (m?.error) note = m.error;
    else if (this.diff?.error) note = `diff: ${this.diff.error}`;
    else if (this.diffMarks.a !== null && this.diffMarks.b === null && !this.view.diff) note = 'diff: A is marked; move the playhead and mark B';
    else if (this.diffMarks.b !== null && this.diffMarks.a === null && !this.view.diff) note = 'diff: B is marked; move the playhead and mark A';
    this.timeline.render({
      sessionId: session,
      curve: mergeCurve(tl?.data ?? null, live.history),
      markers: tl?.data?.markers ?? [],
      end: this.timelineEnd(session),
      pastAt: this.view.at,
      shownTs: m ? m.msg.ts : null,
      shownAt: m ? m.msg.at : null,
      playing: this.playing,
      speed: this.speed,
      diff: this.view.diff,
      diffTotals: this.diff?.totals ?? null,
      diffPending: !!this.diff && this.diff.ranges === null,
      note,
    });
  }

  // ---- recordings -----------------------------------------------------------

  private installDrop(): void {
    let depth = 0;
    const hasFiles = (ev: DragEvent): boolean => !!ev.dataTransfer && [...ev.dataTransfer.types].includes('Files');
    document.addEventListener('dragenter', (ev) => {
      if (!hasFiles(ev)) return;
      depth++;
      document.body.classList.add('drop-target');
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) document.body.classList.remove('drop-target');
    });
    document.addEventListener('dragover', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('drop', (ev) => {
      depth = 0;
      document.body.classList.remove('drop-target');
      const f = ev.dataTransfer?.files[0];
      if (!f) return;
      ev.preventDefault();
      void this.upload(f);
    });
  }

  private showUpload(kind: 'busy' | 'ok' | 'error', text: string): void {
    this.uploadStatus.hidden = false;
    this.uploadStatus.className = `upload-status ${kind}`;
    this.uploadStatus.textContent = text;
  }

  private async upload(file: File): Promise<void> {
    this.showUpload('busy', `Loading ${file.name}…`);
    const r = await uploadRecording('api/recordings', file);
    if (r.ok) {
      this.showUpload('ok', `${file.name}: loaded as session #${r.id}`);
      this.moment = null;
      this.playing = false;
      this.setView({ session: r.id, zoom: null, at: null, diff: null });
      setTimeout(() => {
        if (this.uploadStatus.classList.contains('ok')) this.uploadStatus.hidden = true;
      }, 6000);
    } else {
      this.showUpload('error', `${file.name} was not loaded: ${r.error}`);
    }
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
    if (patch.session !== undefined && patch.session !== this.view.session) {
      patch = { at: null, diff: null, ...patch };
      this.moment = null;
      this.playing = false;
      this.diffMarks = { a: null, b: null };
    }
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
      case 'step-prev':
        this.step(-1);
        break;
      case 'step-next':
        this.step(1);
        break;
      case 'live':
        this.goLive();
        break;
      case 'replay':
        this.togglePlay();
        break;
      case 'slower':
      case 'faster':
        this.speed = stepSpeed(this.speed, action === 'faster' ? 1 : -1);
        this.forceSlow = true;
        this.schedule();
        break;
      case 'open':
        this.fileInput.click();
        break;
      case 'escape':
        if (!this.uploadStatus.hidden && this.uploadStatus.classList.contains('error')) this.uploadStatus.hidden = true;
        else if (!this.help.hidden) this.toggleHelp(false);
        else if (this.details.open) this.closeDetails();
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
    const lines = describeHit(view.proc.map, layout.extents, hit, this.annotated(view.proc) ? this.annotationContext(view.proc) : null);
    view.canvas.canvas.style.cursor = hit.kind === 'gap' ? 'default' : 'pointer';
    if (lines) this.tooltip.show([`pid ${procPidText(view.proc.sessionId, view.proc.pid)} · ${lines[0]}`, ...lines.slice(1)], ev.clientX, ev.clientY);
    else this.tooltip.hide();
  }

  /** The session a process view shows (the past one when scrubbing). */
  private sessionOf(proc: ProcessState): SessionState | null {
    const m = this.moment?.state;
    if (m && m.id === proc.sessionId && m.processes.get(proc.pid) === proc) return m;
    return this.store.sessions.get(proc.sessionId) ?? null;
  }

  /** Whether a process has version 2 annotations (or its session has stacks) to show. */
  private annotated(proc: ProcessState): boolean {
    return proc.vmas.count + proc.origins.count + proc.touches.count > 0 || (this.sessionOf(proc)?.stacks.size ?? 0) > 0;
  }

  /** What the tooltip and the detail panel need to word a process's annotations. */
  private annotationContext(proc: ProcessState): AnnotationContext {
    const session = this.sessionOf(proc);
    return {
      vmas: proc.vmas,
      origins: proc.origins,
      touches: proc.touches,
      stacks: session?.stacks ?? new Map(),
      mode: session?.mode ?? 0,
      threadName: (tid) => {
        // The process's own table, then its ancestors' (a forked child's
        // inherited touches name its parent's threads).
        let p: ProcessState | undefined = proc;
        for (let hops = 0; p && hops < 64; hops++) {
          const n = p.threads.get(tid);
          if (n !== undefined) return n;
          p = session?.processes.get(p.ppid);
        }
        return null;
      },
    };
  }

  /** The detail panel's content for an address of a process. */
  private detailsFor(proc: ProcessState, addr: number): Details {
    const ctx = this.annotationContext(proc);
    const session = this.sessionOf(proc);
    const stackId = proc.origins.get(addr) ?? null;
    const frames = stackId === null ? null : (ctx.stacks.get(stackId) ?? null);
    let noStack: string | null = null;
    if (stackId === null) {
      noStack = ctx.stacks.size === 0 ? (originLine(addr, ctx) ?? 'no backtrace') : 'no backtrace for this range: mapped before mevi-run attached, by the kernel, or by the program loader';
    }
    let touch: string;
    if ((session?.mode ?? 0) !== 0) touch = 'first touch is not tracked in sampled mode';
    else {
      const tid = proc.touches.get(addr);
      touch = tid === undefined ? 'first touch: not recorded (not touched yet, or mapped before tracing)' : `first touched by ${formatThread(tid, ctx.threadName(tid))}`;
    }
    return { pid: proc.pid, pidText: procPidText(proc.sessionId, proc.pid), addr, range: proc.map.lookup(addr), vma: describeVma(proc.vmas.get(addr), ctx), stackId, frames, noStack, touch };
  }

  private closeDetails(): void {
    this.details.hide();
    this.detailsAt = null;
  }

  private onClick(view: ProcessView, hit: Hit): void {
    const { sessionId, pid } = view.proc;
    // The detail panel opens when there is something to tell beyond the
    // tooltip: annotations (protocol version 2) or the session's stacks.
    if (this.annotated(view.proc) && (hit.kind === 'group' || hit.kind === 'zoom-cell')) {
      const addr = Math.floor(hit.addr / PAGE) * PAGE;
      if (hit.kind === 'zoom-cell' || hit.colStart !== hit.colEnd) {
        this.detailsAt = { sessionId, pid, addr };
        this.details.show(this.detailsFor(view.proc, addr));
      }
    }
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
      facts.poll(this.store.sessions.values());
      this.renderTopBar();
      this.renderTimeline();
      this.refreshDetails();
      this.flame.update(this.flameInput());
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
    const diffs = this.diff?.ranges ?? null;
    const views: ProcessView[] = [];
    for (const { session, rows } of this.order) {
      const sv = this.sessionViews.get(session.id);
      const elapsed = this.elapsedNs(session);
      if (slow) sv?.render(session, elapsed, rows.length, this.view.q.trim() !== '', { bySite: this.view.bySite, highlight: this.view.site });
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
            session,
            diff: diffs && session.id === this.view.session ? (diffs.get(row.proc.pid) ?? []) : null,
            paint: { bySite: this.view.bySite || this.flameFilter !== null, highlight: this.flameFilter ?? (this.view.bySite ? this.view.site : null) },
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

  /** What the flame graph shows: the selected (or only) session, live or at the scrubbed moment. */
  private flameInput(): Parameters<FlameView['update']>[0] {
    const id = this.view.session ?? (this.store.sessions.size === 1 ? [...this.store.sessions.keys()][0]! : null);
    const past = id !== null && this.view.at !== null && this.moment?.state?.id === id ? this.moment.state : null;
    const session = id === null ? null : (past ?? this.store.sessions.get(id) ?? null);
    return { session, at: id === this.view.session ? this.view.at : null, diff: id === this.view.session ? this.view.diff : null, filter: this.flameFilter };
  }

  /** Keeps the open detail panel current (the range may have been paged in, unmapped, annotated). */
  private refreshDetails(): void {
    const at = this.detailsAt;
    if (!at || !this.details.open) return;
    const live = this.store.sessions.get(at.sessionId);
    const past = this.moment?.state?.id === at.sessionId && this.view.at !== null ? this.moment.state : null;
    const proc = (past ?? live)?.processes.get(at.pid);
    if (proc) this.details.show(this.detailsFor(proc, at.addr));
  }

  private elapsedNs(s: SessionState): number {
    if (this.moment && s === this.moment.state) return this.moment.msg.ts;
    if (!s.alive || s.startedAt === 0n || this.store.serverNow === 0n) return s.lastTs;
    const sinceStart = Number(this.store.serverNow - s.startedAt);
    const local = this.pause.paused ? 0 : (performance.now() - this.receivedAt) * 1e6;
    return Math.max(s.lastTs, sinceStart + local);
  }

  private visibleSessions(): SessionState[] {
    const all = [...this.store.sessions.values()].sort((a, b) => (a.alive !== b.alive ? (a.alive ? -1 : 1) : b.id - a.id));
    if (this.view.session === null) return all;
    return all.filter((s) => s.id === this.view.session).map((s) => this.pastState(s.id) ?? s);
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
        sv = new SessionView(session.id, { highlight: (id) => this.setView({ site: id }, true) });
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
        const past = session === this.moment?.state;
        if (pv && pv.proc !== row.proc && !(past && pv.proc.sessionId === row.proc.sessionId && pv.past)) {
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
          pv.past = past;
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
    const ps = this.view.session === null ? null : this.pastState(this.view.session);
    if (ps) {
      // The selected session as it was: its past totals instead of its live ones.
      const live = this.store.sessions.get(ps.id);
      for (const p of live?.processes.values() ?? []) if (p.alive) (t.rss -= p.map.rss), (t.vsz -= p.map.vsz);
      for (const p of ps.processes.values()) if (p.alive) (t.rss += p.map.rss), (t.vsz += p.map.vsz);
    }
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
      refusal: this.refusal,
    };
  }
}
