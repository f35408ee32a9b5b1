/*
 * statusview — the DOM for the session chips (with the colour legend), the
 * banner and the empty state. Each updates the DOM only when its content changed.
 */
import type { SessionState } from '../store';
import type { Banner, EmptyState } from '../status';
import { el } from './dom';
import { sessionEndText } from '../endings';
import { formatMode, KIND_COLORS, KIND_LABELS } from '../annotate';
import { KIND_NAMES } from '../protocol';

export class StatusView {
  readonly nav = el('nav', { className: 'sessions-nav' });
  readonly banner = el('div', { className: 'banner', role: 'status' });
  readonly empty = el('div', { className: 'empty-state' });
  private navKey = '';
  private emptyKey = '';

  constructor(private readonly select: (session: number | null) => void) {
    this.banner.hidden = true;
    this.nav.hidden = true;
  }

  /** One chip per session, newest first, plus "all sessions". */
  renderNav(sessions: readonly SessionState[], selected: number | null): void {
    const list = [...sessions].sort((a, b) => b.id - a.id);
    const key = JSON.stringify([selected, list.map((s) => [s.id, sessionEndText(s), s.argv[0] ?? '', s.argv.length, s.mode, s.sampleMs])]);
    if (key === this.navKey) return;
    this.navKey = key;
    this.nav.hidden = list.length === 0;
    if (list.length === 0) {
      this.nav.replaceChildren();
      return;
    }
    const chip = (label: string, title: string, session: number | null, cls: string): HTMLElement => {
      const b = el('button', { className: `session-chip ${cls} ${selected === session ? 'selected' : ''}`, title }, label);
      b.addEventListener('click', () => this.select(session));
      return b;
    };
    const chips = [chip(`all sessions (${list.length})`, 'Show every session', null, '')];
    for (const s of list) {
      const name = (s.argv[0] ?? '?').split('/').pop() || '?';
      const status = sessionEndText(s);
      const mode = formatMode(s.mode, s.sampleMs);
      const c = chip(`#${s.id} ${name} · ${status}${s.mode === 1 ? ' · sampled' : ''}`, `${s.argv.join(' ')}\ntracking: ${mode}`, s.id, s.alive ? 'alive' : 'ended');
      c.dataset.mode = mode;
      chips.push(c);
    }
    const legend = el(
      'span',
      { className: 'legend-inline' },
      el('span', { className: 'swatch resident' }),
      'resident',
      el('span', { className: 'swatch not-resident' }),
      'not resident',
      el('span', { className: 'swatch swapped' }),
      'swapped',
      el('span', { className: 'swatch untracked' }),
      'untracked',
    );
    // The kind stripe above each bar (protocol version 2 sessions).
    const kinds = el(
      'span',
      { className: 'legend-inline legend-kinds', title: 'memory kind: the stripe above each bar' },
      'kind:',
      ...KIND_LABELS.flatMap((label, k) => {
        const sw = el('span', { className: 'swatch kind-swatch' });
        sw.style.background = KIND_COLORS[k]!;
        const item = el('span', { className: 'legend-kind' }, sw, label);
        item.dataset.kind = KIND_NAMES[k]!;
        return [item];
      }),
    );
    this.nav.replaceChildren(...chips, el('span', { className: 'spacer' }), legend, kinds);
  }

  renderBanner(b: Banner | null): void {
    const text = b?.text ?? '';
    if (this.banner.textContent !== text) this.banner.textContent = text;
    this.banner.className = `banner ${b?.kind ?? ''}`;
    this.banner.hidden = b === null;
  }

  renderEmpty(e: EmptyState | null): void {
    this.empty.hidden = e === null;
    const key = e ? `${e.title}\n${e.detail}` : '';
    if (key === this.emptyKey || !e) return;
    this.emptyKey = key;
    // `backquoted` parts of the text are commands: shown as code.
    const parts = e.detail.split('`').map((s, i) => (i % 2 ? el('code', {}, s) : s));
    this.empty.replaceChildren(el('h1', {}, e.title), el('p', {}, ...parts));
  }
}
