/*
 * detailpanel — the side panel a click on the map opens: what the address
 * is (range, state, kind and name), the whole call stack that mapped it
 * (function, module, source line per frame; the call-site frame marked), and
 * in exact mode the thread that first touched it. Text only, never HTML
 * from data (function names and paths are untrusted).
 */
import type { Frame } from '../protocol';
import { callSiteFrame } from '../annotate';
import { formatAddress, formatBytes, formatRange } from '../format';
import { STATE_LABELS } from '../theme';
import { el } from './dom';

/** What the panel shows; built by the app from the store (see App.details). */
export interface Details {
  pid: number;
  /** The pid as shown: "3 (host 41213)" in a pid namespace (endings.ts). */
  pidText?: string;
  addr: number;
  /** The range under the pointer and its state, or null when unmapped. */
  range: [number, number, number] | null;
  /** Kind and name, as describeVma words it. */
  vma: string;
  /** The origin stack id, or null. */
  stackId: number | null;
  /** Its frames, or null when unknown. */
  frames: Frame[] | null;
  /** Why there is no stack, when there is none. */
  noStack: string | null;
  /** "first touched by thread 12 'worker'" or why it is unknown. */
  touch: string;
}

export interface DetailPanelCallbacks {
  close(): void;
  /** Turns "group by call site" on and highlights this stack. */
  showSite(stackId: number): void;
}

export class DetailPanel {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  shown: Details | null = null;

  constructor(private readonly cb: DetailPanelCallbacks) {
    const close = el('button', { className: 'detail-close', title: 'Close (Esc)' }, '✕');
    close.addEventListener('click', () => cb.close());
    this.body = el('div', { className: 'detail-body' });
    this.el = el('aside', { className: 'detail-panel', role: 'dialog', ariaLabel: 'range details' }, close, this.body);
    this.el.hidden = true;
  }

  private key = '';

  show(d: Details): void {
    this.shown = d;
    const key = JSON.stringify(d);
    if (key === this.key && !this.el.hidden) return; // unchanged: keep the DOM (selection, hover)
    this.key = key;
    const parts: (Node | string)[] = [];
    parts.push(el('h2', {}, `pid ${d.pidText ?? d.pid} · ${formatAddress(d.addr)}`));
    if (d.range) {
      const [s, e, st] = d.range;
      parts.push(el('div', { className: 'detail-line' }, `${formatRange(s, e)} · ${formatBytes(e - s)} · ${STATE_LABELS[st] ?? `state ${st}`}`));
    } else {
      parts.push(el('div', { className: 'detail-line' }, 'unmapped'));
    }
    parts.push(el('div', { className: 'detail-line detail-kind' }, d.vma));
    parts.push(el('h3', {}, d.stackId === null ? 'Backtrace' : `Mapped by stack #${d.stackId}`));
    if (d.frames && d.frames.length) {
      const site = callSiteFrame(d.frames);
      const rows = d.frames.map((f, i) =>
        el(
          'tr',
          { className: f === site ? 'call-site' : '' },
          el('td', { className: 'frame-no' }, `#${i}`),
          el('td', { className: 'frame-func' }, f.func || formatAddress(f.pc)),
          el('td', { className: 'frame-module', title: f.module }, f.module ? (f.module.split('/').pop() ?? f.module) : '?'),
          el('td', { className: 'frame-source' }, f.source ?? '—'),
        ),
      );
      parts.push(el('table', { className: 'frames' }, el('tbody', {}, ...rows)));
    } else {
      parts.push(el('div', { className: 'detail-empty' }, d.noStack ?? (d.stackId !== null ? `the frames of stack #${d.stackId} were not received` : 'no backtrace')));
    }
    if (d.stackId !== null) {
      const b = el('button', { className: 'detail-site' }, 'show every range of this call site');
      const id = d.stackId;
      b.addEventListener('click', () => this.cb.showSite(id));
      parts.push(b);
    }
    parts.push(el('div', { className: 'detail-line detail-touch' }, d.touch));
    this.body.replaceChildren(...parts);
    this.el.hidden = false;
  }

  hide(): void {
    this.shown = null;
    this.key = '';
    this.el.hidden = true;
  }

  get open(): boolean {
    return !this.el.hidden;
  }
}
