/*
 * timeline — the scrub bar under the top bar for the selected session: its
 * RSS curve, process start / exec / exit markers, the playhead, diff marks A
 * and B, and the controls (step, play, speed, live, diff).
 */
import { formatBytes } from '../format';
import { COLORS, MONO } from '../theme';
import { SPEEDS, TimeScale, curveAt, formatTs, markersNear, modeLabel, type TimelineMarker } from '../timeline';
import { DIFF_KINDS, type DiffTotals } from '../diff';
import { el } from './dom';
import { DIFF_COLORS } from '../diffcolors';

export interface TimelineCallbacks {
  /** Pointer at time `at` while dragging (final on release). */
  scrub(at: number, final: boolean): void;
  stepPrev(): void;
  stepNext(): void;
  live(): void;
  togglePlay(): void;
  setSpeed(speed: number): void;
  markA(): void;
  markB(): void;
  clearDiff(): void;
}

export interface TimelineInput {
  sessionId: number;
  curve: { ts: number[]; rss: number[] };
  markers: readonly TimelineMarker[];
  /** Right end of the bar (ns since start). */
  end: number;
  /** Requested past time, null when live. */
  pastAt: number | null;
  /** Time of the last event in the state shown (past), null when live or not yet known. */
  shownTs: number | null;
  /** The `at` of the moment shown, null when none yet. */
  shownAt: number | null;
  playing: boolean;
  speed: number;
  diff: [number, number] | null;
  diffTotals: DiffTotals | null;
  diffPending: boolean;
  /** Why scrubbing is not possible (no history kept...), or null. */
  note: string | null;
}


const MARKER_COLORS: Record<string, string> = { start: '#3ddc84', exec: '#f9c74f', exit: '#adb5bd' };

export class TimelineView {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly mode: HTMLElement;
  private readonly play: HTMLButtonElement;
  private readonly speed: HTMLSelectElement;
  private readonly liveBtn: HTMLButtonElement;
  private readonly info: HTMLElement;
  private readonly diffInfo: HTMLElement;
  private readonly clear: HTMLButtonElement;
  private input: TimelineInput | null = null;
  private drawnKey = '';
  private dragging = false;
  private hoverX: number | null = null;
  private cssWidth = 600;
  private readonly height = 54;

  constructor(private readonly cb: TimelineCallbacks) {
    this.canvas = el('canvas', { className: 'timeline-canvas', title: '' });
    const btn = (text: string, title: string, cls: string, fn: () => void): HTMLButtonElement => {
      const b = el('button', { className: `tl-btn ${cls}`, title }, text);
      b.addEventListener('click', fn);
      return b;
    };
    const prev = btn('⏮', 'Previous event (←)', 'tl-prev', () => cb.stepPrev());
    this.play = btn('▶', 'Replay from here (p)', 'tl-play', () => cb.togglePlay());
    const next = btn('⏭', 'Next event (→)', 'tl-next', () => cb.stepNext());
    this.speed = el('select', { className: 'tl-speed', title: 'Replay speed ([ and ])' });
    for (const s of SPEEDS) this.speed.append(el('option', { value: String(s) }, `${s}×`));
    this.speed.addEventListener('change', () => cb.setSpeed(Number(this.speed.value)));
    this.liveBtn = btn('LIVE ⇥', 'Back to live (l)', 'tl-live', () => cb.live());
    this.mode = el('span', { className: 'time-mode live', role: 'status' }, 'LIVE');
    this.info = el('span', { className: 'tl-info' });
    const a = btn('A', 'Diff: mark the playhead as moment A', 'tl-a', () => cb.markA());
    const b = btn('B', 'Diff: mark the playhead as moment B', 'tl-b', () => cb.markB());
    this.clear = btn('✕ diff', 'Stop highlighting the diff', 'tl-clear', () => cb.clearDiff());
    this.diffInfo = el('span', { className: 'tl-diff' });
    const controls = el('div', { className: 'tl-controls' }, this.mode, prev, this.play, next, this.speed, this.liveBtn, el('span', { className: 'tl-sep' }), a, b, this.clear, this.diffInfo, el('span', { className: 'spacer' }), this.info);
    this.el = el('div', { className: 'timeline' }, controls, this.canvas);
    this.el.hidden = true;

    const tAt = (ev: PointerEvent): number => {
      const r = this.canvas.getBoundingClientRect();
      return this.scale().t(ev.clientX - r.left);
    };
    this.canvas.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      this.dragging = true;
      this.canvas.setPointerCapture(ev.pointerId);
      cb.scrub(tAt(ev), false);
    });
    this.canvas.addEventListener('pointermove', (ev) => {
      const r = this.canvas.getBoundingClientRect();
      this.hoverX = ev.clientX - r.left;
      if (this.dragging) cb.scrub(tAt(ev), false);
      this.updateHoverTitle();
      this.draw(true);
    });
    const up = (ev: PointerEvent): void => {
      if (!this.dragging) return;
      this.dragging = false;
      cb.scrub(tAt(ev), true);
    };
    this.canvas.addEventListener('pointerup', up);
    this.canvas.addEventListener('pointercancel', up);
    this.canvas.addEventListener('pointerleave', () => {
      this.hoverX = null;
      this.draw(true);
    });
  }

  resize(width: number): void {
    const w = Math.max(200, Math.floor(width));
    if (w === this.cssWidth) return;
    this.cssWidth = w;
    this.draw(true);
  }

  scale(): TimeScale {
    return new TimeScale(this.input?.end ?? 1, this.cssWidth);
  }

  render(input: TimelineInput | null): void {
    this.input = input;
    this.el.hidden = input === null;
    if (!input) return;
    const past = input.pastAt !== null;
    const label = modeLabel(input.pastAt);
    if (this.mode.textContent !== label) this.mode.textContent = label;
    this.mode.className = `time-mode ${past ? 'past' : 'live'}`;
    const d = this.el.dataset;
    d.session = String(input.sessionId);
    d.mode = past ? 'past' : 'live';
    d.at = input.pastAt === null ? '' : String(input.pastAt);
    d.shownAt = input.shownAt === null ? '' : String(input.shownAt);
    d.ts = input.shownTs === null ? '' : String(input.shownTs);
    d.end = String(input.end);
    this.play.textContent = input.playing ? '❚❚' : '▶';
    this.play.classList.toggle('on', input.playing);
    if (this.speed.value !== String(input.speed)) this.speed.value = String(input.speed);
    this.liveBtn.disabled = !past;
    const info = input.note ?? (past ? `state after the event at ${formatTs(input.shownTs ?? input.pastAt ?? 0)} · session ${formatTs(input.end)}` : `session ${formatTs(input.end)} · drag to look back`);
    if (this.info.textContent !== info) this.info.textContent = info;
    this.clear.hidden = input.diff === null;
    this.renderDiff(input);
    this.draw(false);
  }

  private renderDiff(input: TimelineInput): void {
    const key = JSON.stringify([input.diff, input.diffTotals, input.diffPending]);
    if (this.diffInfo.dataset.key === key) return;
    this.diffInfo.dataset.key = key;
    if (!input.diff) {
      this.diffInfo.replaceChildren();
      return;
    }
    const [a, b] = input.diff;
    const parts: (Node | string)[] = [`A ${formatTs(a)} → B ${formatTs(b)}: `];
    if (input.diffPending || !input.diffTotals) parts.push('computing…');
    else
      for (const k of DIFF_KINDS) {
        const sw = el('span', { className: `swatch diff-${k}` });
        sw.style.background = DIFF_COLORS[k]!;
        parts.push(el('span', { className: `diff-legend diff-legend-${k}`, title: `bytes ${k} between A and B` }, sw, `${k} ${formatBytes(input.diffTotals[k])}`));
      }
    this.diffInfo.replaceChildren(...parts);
  }

  private updateHoverTitle(): void {
    const i = this.input;
    if (!i || this.hoverX === null) return;
    const sc = this.scale();
    const t = sc.t(this.hoverX);
    const tol = (sc.end / Math.max(1, sc.width)) * 4;
    const near = markersNear(i.markers, t, tol).slice(0, 4);
    const lines = [`t=${formatTs(t)} · RSS ${formatBytes(curveAt(i.curve, t))}`, ...near.map((m) => `${m.kind} pid ${m.pid} at ${formatTs(m.ts)}`)];
    this.canvas.title = lines.join('\n');
  }

  private draw(force: boolean): void {
    const i = this.input;
    if (!i) return;
    const key = JSON.stringify([i.end, i.curve.ts.length, i.curve.ts[i.curve.ts.length - 1], i.curve.rss[i.curve.rss.length - 1], i.markers.length, i.pastAt, i.diff, this.cssWidth]);
    if (!force && key === this.drawnKey) return;
    this.drawnKey = key;
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas;
    const w = this.cssWidth;
    const h = this.height;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = COLORS.groupBg;
    ctx.fillRect(0, 0, w, h);
    const sc = this.scale();
    const top = 4;
    const bottom = h - 12;
    // RSS step curve, filled.
    const { ts, rss } = i.curve;
    let max = 0;
    for (const r of rss) max = Math.max(max, r);
    const y = (r: number): number => bottom - (max > 0 ? (r / max) * (bottom - top) : 0);
    if (ts.length) {
      ctx.beginPath();
      ctx.moveTo(sc.x(0), bottom);
      let prevY = bottom;
      for (let k = 0; k < ts.length; k++) {
        const x = sc.x(ts[k]!);
        ctx.lineTo(x, prevY);
        prevY = y(rss[k]!);
        ctx.lineTo(x, prevY);
      }
      ctx.lineTo(sc.x(i.end), prevY);
      ctx.lineTo(sc.x(i.end), bottom);
      ctx.closePath();
      ctx.fillStyle = 'rgba(203, 31, 95, 0.45)';
      ctx.fill();
      ctx.strokeStyle = COLORS.resident;
      ctx.lineWidth = 1;
      ctx.stroke();
    }
    ctx.fillStyle = COLORS.dim;
    ctx.font = `10px ${MONO}`;
    ctx.textBaseline = 'top';
    if (max > 0) ctx.fillText(formatBytes(max), 8, 2);
    ctx.textBaseline = 'alphabetic';
    // Markers: ticks along the bottom.
    for (const m of i.markers) {
      const x = Math.round(sc.x(m.ts)) + 0.5;
      ctx.strokeStyle = MARKER_COLORS[m.kind] ?? COLORS.dim;
      ctx.beginPath();
      ctx.moveTo(x, bottom + 1);
      ctx.lineTo(x, h - 1);
      ctx.stroke();
    }
    // Diff marks.
    if (i.diff) {
      const [a, b] = i.diff;
      ctx.fillStyle = 'rgba(255,255,255,0.08)';
      ctx.fillRect(sc.x(Math.min(a, b)), top, Math.max(1, Math.abs(sc.x(b) - sc.x(a))), bottom - top);
      for (const [t, name] of [
        [a, 'A'],
        [b, 'B'],
      ] as const) {
        const x = Math.round(sc.x(t)) + 0.5;
        ctx.strokeStyle = '#f9c74f';
        ctx.setLineDash([3, 2]);
        ctx.beginPath();
        ctx.moveTo(x, 0);
        ctx.lineTo(x, bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = '#f9c74f';
        ctx.fillText(name, x + 2, 12);
      }
    }
    // Hover line.
    if (this.hoverX !== null) {
      ctx.fillStyle = 'rgba(255,255,255,0.25)';
      ctx.fillRect(Math.round(this.hoverX), 0, 1, h);
    }
    // Playhead: at the past time, or at the live end.
    const px = Math.round(sc.x(i.pastAt ?? i.end));
    ctx.fillStyle = i.pastAt === null ? COLORS.resident : COLORS.text;
    ctx.fillRect(px - 1, 0, 2, h);
    ctx.beginPath();
    ctx.moveTo(px - 5, 0);
    ctx.lineTo(px + 5, 0);
    ctx.lineTo(px, 6);
    ctx.closePath();
    ctx.fill();
  }
}
