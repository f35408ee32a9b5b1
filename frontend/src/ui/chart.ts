/*
 * chart — RSS over time, drawn with uPlot: a bare sparkline per process and a
 * chart with axes per session. Updates are cheap and skipped when the series
 * did not change.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RssHistory } from '../history';
import { formatBytes, formatSecondsTicks } from '../format';
import { COLORS, MONO } from '../theme';

/** Tick steps in binary units (1, 2, 4 ... 512 of B, KiB, MiB, GiB, TiB) so labels read "64 MiB", not "47.7 MiB". */
const BINARY_INCREMENTS = Array.from({ length: 50 }, (_, i) => 2 ** i);

const MIN_INTERVAL_MS = 400;
const IDLE_INTERVAL_MS = 2000;

export interface ChartOptions {
  width: number;
  height: number;
  axes: boolean;
}

export class RssChart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private drawnVersion = -1;
  private drawnHistory: RssHistory | null = null;
  /** Starts at a random phase (see update()). */
  private drawnAt = performance.now() - Math.random() * MIN_INTERVAL_MS;

  constructor(private opts: ChartOptions) {
    this.el = document.createElement('div');
    this.el.className = opts.axes ? 'rss-chart' : 'rss-spark';
    this.el.style.width = `${opts.width}px`;
    this.el.style.height = `${opts.height}px`;
  }

  /**
   * Redraws from history; `endTs` extends the last value to "now" (ns). At
   * most every MIN_INTERVAL_MS (each chart on its own phase, so fifty
   * sparklines do not all redraw in the same frame), and when nothing changed
   * only every IDLE_INTERVAL_MS to move "now" along.
   */
  update(history: RssHistory, endTs?: number): void {
    const t = performance.now();
    const same = this.drawnHistory === history && this.drawnVersion === history.version;
    if (this.plot && same && (endTs === undefined || t - this.drawnAt < IDLE_INTERVAL_MS)) return;
    if (this.plot && this.drawnHistory === history && t - this.drawnAt < MIN_INTERVAL_MS) return;
    this.drawnAt = t;
    this.drawnHistory = history;
    this.drawnVersion = history.version;
    const xs = history.ts.map((t) => t / 1e9);
    const ys = history.rss.slice();
    if (endTs !== undefined && xs.length > 0 && endTs / 1e9 > xs[xs.length - 1]!) {
      xs.push(endTs / 1e9);
      ys.push(ys[ys.length - 1]!);
    }
    if (xs.length === 1) {
      xs.unshift(0);
      ys.unshift(0);
    }
    const data: uPlot.AlignedData = [xs, ys];
    if (!this.plot) this.plot = this.create(data);
    else this.plot.setData(data);
  }

  resize(width: number): void {
    if (width === this.opts.width || width <= 0) return;
    this.opts = { ...this.opts, width };
    this.el.style.width = `${width}px`;
    this.plot?.setSize({ width, height: this.opts.height });
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }

  private create(data: uPlot.AlignedData): uPlot {
    const { width, height, axes } = this.opts;
    const font = `11px ${MONO}`;
    const axis: uPlot.Axis = {
      stroke: COLORS.dim,
      font,
      grid: { stroke: 'rgba(255,255,255,0.08)', width: 1 },
      ticks: { show: false },
    };
    return new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { show: axes, drag: { x: false, y: false }, points: { show: false } },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        padding: axes ? [6, 8, 0, 0] : [2, 0, 2, 0],
        // A zero-length session (one point) gets a one-second axis, not
        // ticks that all read "0.000 s".
        scales: { x: { time: false, range: (_u, min, max) => (min != null && max != null && max > min ? [min, max] : [min ?? 0, (min ?? 0) + 1]) }, y: { range: (_u, _min, max) => [0, Math.max(max, 4096)] } },
        axes: axes
          ? [
              { ...axis, size: 22, values: (_u, ticks) => formatSecondsTicks(ticks) },
              { ...axis, size: 70, incrs: BINARY_INCREMENTS, values: (_u, ticks) => ticks.map((t) => formatBytes(t)) },
            ]
          : [{ show: false }, { show: false }],
        series: [
          {},
          {
            stroke: COLORS.resident,
            width: 1.5,
            fill: 'rgba(203, 31, 95, 0.25)',
            points: { show: false },
            paths: uPlot.paths.stepped?.({ align: 1 }),
          },
        ],
      },
      data,
      this.el,
    );
  }
}
