/*
 * topbar — the sticky bar: brand, total resident and virtual sizes, the
 * LIVE / OFFLINE indicator, the pause state, the options and the filter box.
 */
import { formatBytes } from '../format';
import type { LinkStatus } from '../connection';
import { el } from './dom';

export interface TopBarCallbacks {
  setShowGaps(v: boolean): void;
  setShowNonResident(v: boolean): void;
  setBySite(v: boolean): void;
  setFilter(q: string): void;
  togglePause(): void;
  toggleHelp(): void;
  openRecording(): void;
}

export class TopBar {
  readonly el: HTMLElement;
  readonly filter: HTMLInputElement;
  private readonly rss: HTMLElement;
  private readonly vsz: HTMLElement;
  private readonly live: HTMLElement;
  private readonly pause: HTMLButtonElement;
  private readonly gaps: HTMLInputElement;
  private readonly nonres: HTMLInputElement;
  private readonly bySite: HTMLInputElement;

  constructor(cb: TopBarCallbacks) {
    const brand = el('div', { className: 'brand', title: 'mevi: memory visualizer' }, el('span', {}, 'me'), el('span', { className: 'brand-rest' }, 'vi'));
    this.rss = el('span', { className: 'mem-stats rss', title: 'Resident set of all live processes: bytes the kernel has pages for' });
    this.vsz = el('span', { className: 'mem-stats virt', title: 'Virtual size of all live processes (private anonymous mappings)' });
    this.live = el('span', { className: 'live-indicator offline', role: 'status' }, 'OFFLINE');
    this.pause = el('button', { className: 'pause-btn', title: 'Pause the view (space)' }, '❚❚ pause');
    this.pause.addEventListener('click', () => cb.togglePause());
    this.gaps = el('input', { type: 'checkbox', id: 'opt-gaps' });
    this.gaps.addEventListener('change', () => cb.setShowGaps(this.gaps.checked));
    this.nonres = el('input', { type: 'checkbox', id: 'opt-nonres' });
    this.nonres.addEventListener('change', () => cb.setShowNonResident(this.nonres.checked));
    this.bySite = el('input', { type: 'checkbox', id: 'opt-bysite' });
    this.bySite.addEventListener('change', () => cb.setBySite(this.bySite.checked));
    this.filter = el('input', { type: 'search', id: 'filter', placeholder: 'filter: pid or command   /', spellcheck: false, autocomplete: 'off' });
    this.filter.addEventListener('input', () => cb.setFilter(this.filter.value));
    const open = el('button', { className: 'open-btn', title: 'Open a .mevi recording (o), or drop one on the page' }, '⇪ open .mevi');
    open.addEventListener('click', () => cb.openRecording());
    const help = el('button', { className: 'help-btn', title: 'Keyboard shortcuts (?)' }, '?');
    help.addEventListener('click', () => cb.toggleHelp());
    this.el = el(
      'header',
      { className: 'top-bar' },
      brand,
      this.rss,
      this.vsz,
      this.live,
      this.pause,
      el('label', { className: 'option' }, this.gaps, 'Show gaps'),
      el('label', { className: 'option' }, this.nonres, 'Show non-resident groups'),
      el('label', { className: 'option', title: 'Colour memory by the call stack that mapped it, with a table of call sites per session' }, this.bySite, 'By call site'),
      el('span', { className: 'spacer' }),
      this.filter,
      open,
      help,
    );
  }

  setTotals(rss: number, vsz: number): void {
    setStat(this.rss, 'Resident', formatBytes(rss), rss);
    setStat(this.vsz, 'Virtual', formatBytes(vsz), vsz);
  }

  setLink(status: LinkStatus, text: string): void {
    const live = status === 'live';
    this.live.className = `live-indicator ${live ? 'live' : 'offline'}`;
    this.live.dataset.status = status;
    if (this.live.textContent !== text) this.live.textContent = text;
  }

  setPaused(paused: boolean, waiting: number): void {
    this.pause.classList.toggle('paused', paused);
    const text = paused ? `▶ resume${waiting ? ` (${waiting} waiting)` : ''}` : '❚❚ pause';
    if (this.pause.textContent !== text) this.pause.textContent = text;
    this.pause.title = paused ? 'The view is frozen; updates are queued. Resume (space)' : 'Pause the view (space)';
  }

  setOptions(showGaps: boolean, showNonResident: boolean, q: string, bySite = false): void {
    this.bySite.checked = bySite;
    this.gaps.checked = showGaps;
    this.nonres.checked = showNonResident;
    if (this.filter.value !== q) this.filter.value = q;
  }
}

function setStat(node: HTMLElement, name: string, value: string, bytes: number): void {
  if (node.dataset.bytes === String(bytes)) return;
  node.dataset.bytes = String(bytes);
  node.replaceChildren(el('span', { className: 'mem-square' }), el('span', { className: 'name' }, name), el('span', { className: 'value' }, value));
}
