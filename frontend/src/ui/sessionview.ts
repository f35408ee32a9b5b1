/*
 * sessionview — one session: a header (command, launcher, mode, status,
 * totals, RSS chart) above the list of its process blocks.
 */
import { type SessionState, sessionRss, sessionVsz } from '../store';
import { formatArg, formatBytes, formatClock, formatDuration, formatExitStatus } from '../format';
import { MODE_NAMES } from '../protocol';
import { RssChart } from './chart';
import { el } from './dom';

export class SessionView {
  readonly el: HTMLElement;
  readonly list: HTMLElement;
  private readonly title: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly note: HTMLElement;
  private readonly chart = new RssChart({ width: 520, height: 96, axes: true });
  private argvShown: readonly string[] | null = null;

  constructor(readonly id: number) {
    this.title = el('span', { className: 'session-argv' });
    this.badge = el('span', { className: 'session-badge' });
    this.meta = el('div', { className: 'session-meta' });
    this.stats = el('div', { className: 'session-stats' });
    const left = el('div', { className: 'session-left' }, el('div', { className: 'session-title' }, el('span', { className: 'session-id' }, `#${id}`), this.badge, this.title), this.meta, this.stats);
    const head = el('div', { className: 'session-header' }, left, this.chart.el);
    this.note = el('div', { className: 'empty-note session-note' });
    this.list = el('div', { className: 'process-list' });
    this.el = el('section', { className: 'session' }, head, this.note, this.list);
    this.el.dataset.session = String(id);
  }

  /** elapsedNs: time since the session began, as far as this tab knows. */
  render(s: SessionState, elapsedNs: number, shownProcesses: number, filtered: boolean): void {
    if (this.argvShown !== s.argv) {
      this.argvShown = s.argv;
      this.title.replaceChildren(...(s.argv.length ? s.argv : ['(argv unknown)']).map((a) => el('span', { className: 'arg', title: a }, formatArg(a))));
      this.title.title = s.argv.join(' ');
    }
    this.el.classList.toggle('ended', !s.alive);
    const badge = s.alive ? 'running' : `ended · ${s.exitStatus === null ? 'status unknown' : formatExitStatus(s.exitStatus)}`;
    setText(this.badge, badge);
    this.badge.className = `session-badge ${s.alive ? 'running' : 'ended'}`;

    let alive = 0;
    for (const p of s.processes.values()) if (p.alive) alive++;
    const dur = s.alive ? `running for ${formatDuration(elapsedNs)}` : `ran ${formatDuration(s.lastTs)}`;
    const parts = [
      `launcher pid ${s.launcherPid}`,
      `${MODE_NAMES[s.mode] ?? `mode ${s.mode}`} tracking`,
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
