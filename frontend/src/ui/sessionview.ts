/*
 * sessionview — one session: a header (command, launcher, tracking mode,
 * status, totals, RSS chart), with "group by call site" the session's table
 * of call sites (memory per stack that mapped it, sorted by resident bytes),
 * above the list of its process blocks.
 */
import { type SessionState, sessionRss, sessionVsz } from '../store';
import { formatArg, formatBytes, formatClock, formatDuration } from '../format';
import { describeEnd, facts, pidText, procPidText, sessionEndText } from '../endings';
import { callSiteFrame, callSites, formatFrame, formatMode, stackColor, type CallSite } from '../annotate';
import { RssChart } from './chart';
import { el } from './dom';
import { Refresh } from './refresh';

/** Rows of the call-site table at most; the rest is summed up in one line. */
const MAX_SITE_ROWS = 40;

export interface SessionViewCallbacks {
  /** A call-site row was clicked: highlight its ranges (null: clear). */
  highlight(stackId: number | null): void;
}

export class SessionView {
  readonly el: HTMLElement;
  readonly list: HTMLElement;
  private readonly title: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly note: HTMLElement;
  private readonly mode: HTMLElement;
  private readonly sites: HTMLElement;
  private readonly sitesRefresh = new Refresh();
  private sitesHighlight: number | null = null;
  private readonly chart = new RssChart({ width: 520, height: 96, axes: true });
  private argvShown: readonly string[] | null = null;

  constructor(
    readonly id: number,
    private readonly cb: SessionViewCallbacks = { highlight: () => undefined },
  ) {
    this.title = el('span', { className: 'session-argv' });
    this.badge = el('span', { className: 'session-badge' });
    this.mode = el('span', { className: 'session-mode', title: 'tracking mode' });
    this.meta = el('div', { className: 'session-meta' });
    this.stats = el('div', { className: 'session-stats' });
    const left = el('div', { className: 'session-left' }, el('div', { className: 'session-title' }, el('span', { className: 'session-id' }, `#${id}`), this.badge, this.mode, this.title), this.meta, this.stats);
    const head = el('div', { className: 'session-header' }, left, this.chart.el);
    this.note = el('div', { className: 'empty-note session-note' });
    this.list = el('div', { className: 'process-list' });
    this.sites = el('div', { className: 'callsites' });
    this.sites.hidden = true;
    this.el = el('section', { className: 'session' }, head, this.sites, this.note, this.list);
    this.el.dataset.session = String(id);
  }

  /** elapsedNs: time since the session began, as far as this tab knows. */
  render(s: SessionState, elapsedNs: number, shownProcesses: number, filtered: boolean, sites: { bySite: boolean; highlight: number | null } = { bySite: false, highlight: null }): void {
    if (this.argvShown !== s.argv) {
      this.argvShown = s.argv;
      this.title.replaceChildren(...(s.argv.length ? s.argv : ['(argv unknown)']).map((a) => el('span', { className: 'arg', title: a }, formatArg(a))));
      this.title.title = s.argv.join(' ');
    }
    this.el.classList.toggle('ended', !s.alive);
    const badge = s.alive ? 'running' : `ended · ${sessionEndText(s)}`;
    setText(this.badge, badge);
    this.badge.className = `session-badge ${s.alive ? 'running' : 'ended'}`;
    this.badge.title = s.alive ? 'the launcher is tracking it' : describeEnd(facts.end(s.id), s.exitStatus);

    let alive = 0;
    for (const p of s.processes.values()) if (p.alive) alive++;
    const dur = s.alive ? `running for ${formatDuration(elapsedNs)}` : `ran ${formatDuration(s.lastTs)}`;
    const mode = formatMode(s.mode, s.sampleMs) + (s.engine ? ` · ${s.engine}` : '');
    setText(this.mode, mode);
    this.mode.className = `session-mode ${s.mode === 0 ? 'exact' : 'sampled'}`;
    this.mode.title =
      s.mode === 0
        ? 'exact tracking: userfaultfd sees every first touch'
        : 'sampled tracking: residency read from /proc/PID/pagemap at this interval (mevi-run backs off when a scan costs too much)';
    if (s.engine === 'ebpf')
      this.mode.title =
        (s.mode === 0 ? 'exact tracking with the eBPF engine: kernel tracepoints see every first touch and memory syscall, no ptrace' : this.mode.title) +
        `\nreconcile corrections: ${s.corrections}`;
    else if (s.engine === 'ptrace') this.mode.title += '\nengine: ptrace' + (s.mode === 0 ? ' + userfaultfd' : '');
    const parts = [
      `launcher pid ${pidText(s.launcherPid, facts.launcherHostPid(s.id, s.launcherPid))}`,
      `tracking: ${mode}`,
      `started ${formatClock(s.startedAt)}`,
      dur,
      `${s.processes.size} process${s.processes.size === 1 ? '' : 'es'} (${alive} alive)`,
    ];
    setText(this.meta, parts.join(' · '));
    setText(this.stats, `RSS ${formatBytes(sessionRss(s))} · Virt ${formatBytes(sessionVsz(s))} (live processes)`);
    this.chart.update(s.history, s.alive ? elapsedNs : undefined);

    let note = '';
    if (s.processes.size === 0) note = s.alive ? 'Waiting for the first process…' : 'The session ended before any process was seen.';
    else if (shownProcesses === 0 && filtered) note = 'No process of this session matches the filter.';
    setText(this.note, note);
    this.note.hidden = note === '';
    this.renderSites(s, sites.bySite, sites.highlight);
  }

  /** The call-site table (group by call site), rebuilt only when something it shows changed. */
  private renderSites(s: SessionState, on: boolean, highlight: number | null): void {
    this.sites.hidden = !on;
    if (!on) {
      this.sitesRefresh.reset();
      return;
    }
    let key = `${highlight}|${s.stacks.size}`;
    for (const p of s.processes.values()) key += `|${p.pid}:${p.alive}:${p.map.version}:${p.origins.version}:${p.origins.count}`;
    // A new highlight is a click: shown at once.
    if (!this.sitesRefresh.due(key, highlight !== this.sitesHighlight)) return;
    this.sitesHighlight = highlight;
    // Live processes; once none is left, the final sizes of the exited ones.
    const procs = [...s.processes.values()];
    const anyAlive = procs.some((p) => p.alive);
    const rows = callSites(anyAlive ? procs : procs.map((p) => ({ ...p, alive: true })));
    this.sitesRefresh.measured();
    const known = rows.filter((r) => r.stackId >= 0);
    const whose = anyAlive ? 'the live processes' : 'the exited processes (final sizes)';
    const head = el('div', { className: 'callsites-head' }, el('b', {}, 'Call sites'), ` · who maps the memory of ${whose}, by resident bytes · click a row to highlight its ranges`);
    if (s.stacks.size === 0 && known.length === 0) {
      this.sites.replaceChildren(head, el('div', { className: 'empty-note callsites-empty' }, 'no backtraces (run with --backtraces=mmap)'));
      return;
    }
    if (rows.length === 0) {
      this.sites.replaceChildren(head, el('div', { className: 'empty-note callsites-empty' }, 'no memory mapped'));
      return;
    }
    const tr = (r: CallSite): HTMLElement => {
      const pids = r.pids.map((p) => procPidText(s.id, p));
      const frames = r.stackId >= 0 ? s.stacks.get(r.stackId) : undefined;
      const f = frames ? callSiteFrame(frames) : null;
      const label = r.stackId < 0 ? 'no known origin (mapped before tracing, or by the kernel)' : f ? formatFrame(f) : `stack #${r.stackId} (frames not received)`;
      const sw = el('span', { className: 'swatch site-swatch' });
      sw.style.background = stackColor(r.stackId);
      const row = el(
        'tr',
        { className: `callsite-row${highlight === r.stackId ? ' selected' : ''}`, title: frames ? frames.map((x, i) => `#${i} ${formatFrame(x)}`).join('\n') : label },
        el('td', {}, sw),
        el('td', { className: 'site-label' }, label),
        el('td', { className: 'site-id' }, r.stackId >= 0 ? `#${r.stackId}` : ''),
        el('td', { className: 'num site-resident' }, formatBytes(r.resident)),
        el('td', { className: 'num' }, formatBytes(r.mapped)),
        el('td', { className: 'num' }, String(r.ranges)),
        el('td', { className: 'site-pids', title: pids.join(' ') }, pids.length > 6 ? `${pids.slice(0, 6).join(' ')} +${pids.length - 6}` : pids.join(' ')),
      );
      row.dataset.stack = String(r.stackId);
      row.dataset.resident = String(r.resident);
      row.addEventListener('click', () => this.cb.highlight(highlight === r.stackId ? null : r.stackId));
      return row;
    };
    const body = rows.slice(0, MAX_SITE_ROWS).map(tr);
    if (rows.length > MAX_SITE_ROWS) {
      const rest = rows.slice(MAX_SITE_ROWS);
      body.push(el('tr', { className: 'callsite-more' }, el('td', {}), el('td', {}, `… ${rest.length} more call sites`), el('td', {}), el('td', { className: 'num' }, formatBytes(rest.reduce((a, r) => a + r.resident, 0))), el('td', {}), el('td', {}), el('td', {})));
    }
    const thead = el('thead', {}, el('tr', {}, ...['', 'call site', 'stack', 'resident', 'mapped', 'ranges', 'pids'].map((h) => el('th', {}, h))));
    this.sites.replaceChildren(head, el('table', { className: 'callsite-table' }, thead, el('tbody', {}, ...body)));
  }

  resizeChart(width: number): void {
    this.chart.resize(Math.max(240, Math.min(640, Math.floor(width * 0.45))));
  }

  destroy(): void {
    this.chart.destroy();
    this.el.remove();
  }
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
