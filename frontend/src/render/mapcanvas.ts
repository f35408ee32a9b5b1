/*
 * mapcanvas — draws one process's memory map on a canvas: one row per group
 * (address and scale on the left, the bar on the right), gap rows between
 * groups, or, when zoomed, a page-granular grid of one window. Also answers
 * "what is under this point" for tooltips and clicks.
 *
 * Cost per redraw is O(ranges + width): each group is rasterised into pixel
 * columns holding the fraction of bytes in each state, and runs of identical
 * columns become one fillRect. A column holding several states is drawn as a
 * stack (resident at the bottom), with at least one pixel for any state
 * present, so a single resident page in a mostly empty region stays visible.
 */
import type { DiffRange } from '../diff';
import { DIFF_COLORS } from '../diffcolors';
import { type MemMap, RESIDENT } from '../memmap';
import { formatAddress, formatBytes } from '../format';
import {
  buildRows,
  layoutMap,
  rasterize,
  rasterizeGrid,
  type Grid,
  type MapLayout,
  type Row,
  type RowOptions,
  PAGE,
} from '../layout';
import { COLORS, MONO } from '../theme';

export const HEADER_W = 150;
export const BAR_GAP = 10;
export const GROUP_H = 34;
export const GAP_H = 20;
export const ZOOM_HEAD_H = 26;
export const CELL_H = 9;
export const MAX_ROWS = 400;
export const ZOOM_MAX_ROWS = 192;

/**
 * Cells per zoom row: a power of two (so rows start at round addresses, 256
 * pages = 1 MiB a row on a wide screen) with cells at least 4.5 px wide.
 */
export function zoomColumns(barW: number): number {
  let cols = 32;
  while (cols < 512 && barW / (cols * 2) >= 4.5) cols *= 2;
  return cols;
}

/** Slot order in raster fractions: resident, not resident, untracked. */
const SLOT_COLORS = [COLORS.resident, COLORS.notResident, COLORS.untracked];

export interface ZoomWindow {
  start: number;
  end: number;
}

/** What a point on the canvas shows. */
export type Hit =
  | { kind: 'group'; addr: number; colStart: number; colEnd: number; groupStart: number; groupEnd: number; frac: [number, number, number] }
  | { kind: 'gap'; bytes: number }
  | { kind: 'zoom-cell'; addr: number; cellStart: number; cellEnd: number; rowStart: number; rowEnd: number; pagesPerCell: number; frac: [number, number, number] }
  | { kind: 'zoom-header' }
  | { kind: 'more' };

interface RowBox {
  y: number;
  h: number;
  row: Row;
  /** Cached raster of a group row, for hit testing. */
  frac?: Float32Array;
}

export class MapCanvas {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private layout: MapLayout | null = null;
  private layoutVersion = -1;
  private layoutMapRef: MemMap | null = null;
  private boxes: RowBox[] = [];
  private grid: Grid | null = null;
  private cssWidth = 0;
  private barW = 0;
  private charW = 7;
  private img: ImageData | null = null;
  private px: Uint32Array | null = null;
  private hidden = 0;
  /** Diff ranges (A → B) to highlight over the bars, or null. Sorted by start. */
  diff: DiffRange[] | null = null;

  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'map-canvas';
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('canvas 2d context unavailable');
    this.ctx = ctx;
  }

  /** The layout of the last drawn map (recomputed only when the map changed). */
  layoutOf(map: MemMap): MapLayout {
    if (!this.layout || this.layoutMapRef !== map || this.layoutVersion !== map.version) {
      this.layout = layoutMap(map);
      this.layoutVersion = map.version;
      this.layoutMapRef = map;
    }
    return this.layout;
  }

  /** Number of rows the current layout has (for empty-state decisions). */
  get rowCount(): number {
    return this.boxes.length;
  }

  /** Groups hidden by "Show non-resident groups" being off, in the last draw. */
  get hiddenGroups(): number {
    return this.hidden;
  }

  /**
   * Redraws. width is the CSS width available. Returns the time spent in ms.
   */
  draw(map: MemMap, width: number, opts: RowOptions, zoom: ZoomWindow | null): number {
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    this.cssWidth = Math.max(200, Math.floor(width));
    this.barW = Math.max(50, this.cssWidth - HEADER_W - BAR_GAP - 4);
    const layout = this.layoutOf(map);

    let height: number;
    if (zoom) {
      const cols = zoomColumns(this.barW);
      this.grid = rasterizeGrid(map, zoom.start, zoom.end, cols, ZOOM_MAX_ROWS);
      this.boxes = [];
      height = ZOOM_HEAD_H + this.grid.rows * CELL_H + 6;
    } else {
      this.grid = null;
      const rows = buildRows(layout.groups, opts);
      this.hidden = layout.groups.length - rows.filter((r) => r.kind === 'group').length;
      let y = 4;
      this.boxes = [];
      for (const row of rows.slice(0, MAX_ROWS)) {
        const h = row.kind === 'group' ? GROUP_H : GAP_H;
        this.boxes.push({ y, h, row });
        y += h;
      }
      if (rows.length > MAX_ROWS) {
        this.boxes.push({ y, h: GAP_H, row: { kind: 'gap', bytes: -1, hidden: rows.length - MAX_ROWS } });
        y += GAP_H;
      }
      height = this.boxes.length ? y + 4 : 0;
    }

    const c = this.canvas;
    const pw = Math.round(this.cssWidth * dpr);
    const ph = Math.round(height * dpr);
    if (c.width !== pw || c.height !== ph) {
      c.width = pw;
      c.height = ph;
      c.style.width = `${this.cssWidth}px`;
      c.style.height = `${height}px`;
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = COLORS.bodyBg;
    ctx.fillRect(0, 0, this.cssWidth, height);
    ctx.textBaseline = 'middle';
    ctx.font = `13px ${MONO}`;
    this.charW = ctx.measureText('0').width || 7;

    if (this.grid && zoom) this.drawZoom(map, this.grid, dpr);
    else for (const box of this.boxes) this.drawRow(map, box, dpr);
    return performance.now() - t0;
  }

  private drawRow(map: MemMap, box: RowBox, dpr: number): void {
    const ctx = this.ctx;
    const { row, y, h } = box;
    const barX = HEADER_W + BAR_GAP;
    if (row.kind === 'gap') {
      ctx.fillStyle = COLORS.dim;
      ctx.font = `12px ${MONO}`;
      ctx.textAlign = 'center';
      let text: string;
      if (row.bytes < 0) text = `… ${row.hidden} more rows not drawn`;
      else {
        text = `⋯ ${formatBytes(row.bytes)} gap ⋯`;
        if (row.hidden > 0) text += `  (${row.hidden} group${row.hidden > 1 ? 's' : ''} without resident pages hidden)`;
      }
      ctx.fillText(text, barX + this.barW / 2, y + h / 2);
      ctx.textAlign = 'left';
      return;
    }
    const g = row.group;
    const barY = y + 3;
    const barH = h - 6;
    // Header: start address, scale below it.
    ctx.textAlign = 'right';
    ctx.fillStyle = COLORS.text;
    ctx.font = `13px ${MONO}`;
    ctx.fillText(formatAddress(g.start), HEADER_W, barY + 8);
    ctx.fillStyle = COLORS.dim;
    ctx.font = `11px ${MONO}`;
    ctx.fillText(`${formatBytes(g.scale)} ▸`, HEADER_W, barY + barH - 5);
    ctx.textAlign = 'left';

    // Bar background: the group's slice of the power-of-two scale.
    ctx.fillStyle = COLORS.groupBg;
    ctx.fillRect(barX, barY, this.barW, barH);

    // Rasterise in device pixels for crisp columns.
    const cols = Math.max(1, Math.round(this.barW * dpr));
    const r = rasterize(map, g.start, g.scale, cols, 24 * dpr);
    box.frac = r.frac;
    this.paintBar(r.frac, cols, Math.round(barX * dpr), Math.round(barY * dpr), Math.round(barH * dpr));

    if (this.diff && this.diff.length) this.drawDiff(g.start, g.scale, barX, barY, barH);

    // Range separators and size labels on ranges wide enough to hold one.
    ctx.font = `12px ${MONO}`;
    for (let i = 0; i < r.wide.length; i += 4) {
      const x0 = barX + r.wide[i]! / dpr;
      const x1 = barX + Math.min(r.wide[i + 1]! / dpr, this.barW);
      ctx.fillStyle = COLORS.separator;
      ctx.fillRect(Math.round(x0), barY, 1, barH);
      const label = formatBytes(r.wide[i + 3]!);
      if (x1 - x0 >= label.length * this.charW * (12 / 13) + 8) {
        ctx.fillStyle = COLORS.text;
        ctx.fillText(label, x0 + 4, barY + barH / 2);
      }
    }
  }

  /**
   * Diff highlights over a bar: a band along the bottom and an outline per
   * changed range, at least one pixel wide, so a single page still shows.
   */
  private drawDiff(start: number, scale: number, barX: number, barY: number, barH: number): void {
    const diff = this.diff!;
    const end = start + scale;
    let lo = 0;
    let hi = diff.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (diff[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    const ctx = this.ctx;
    const band = Math.max(4, Math.round(barH / 3));
    for (let i = lo; i < diff.length && diff[i]!.start < end; i++) {
      const d = diff[i]!;
      const x0 = barX + ((Math.max(d.start, start) - start) / scale) * this.barW;
      const x1 = barX + ((Math.min(d.end, end) - start) / scale) * this.barW;
      const w = Math.max(1, x1 - x0);
      const color = DIFF_COLORS[d.kind]!;
      ctx.fillStyle = color;
      ctx.fillRect(x0, barY + barH - band, w, band);
      ctx.fillRect(x0, barY, w, 2);
    }
  }

  /**
   * Writes a bar's pixels directly (one putImageData instead of thousands of
   * fillRects when neighbouring columns differ, as they do in striped maps).
   * Device-pixel coordinates; ignores the canvas transform.
   */
  private paintBar(frac: Float32Array, cols: number, x0: number, y0: number, h: number): void {
    if (!this.img || this.img.width !== cols || this.img.height !== h) {
      this.img = this.ctx.createImageData(cols, h);
      this.px = new Uint32Array(this.img.data.buffer);
    }
    fillColumns(this.px!, frac, cols, h);
    this.ctx.putImageData(this.img, x0, y0);
  }

  private drawZoom(map: MemMap, grid: Grid, dpr: number): void {
    const ctx = this.ctx;
    const barX = HEADER_W + BAR_GAP;
    const cellW = this.barW / grid.cols;
    ctx.font = `12px ${MONO}`;
    ctx.fillStyle = COLORS.text;
    const per = grid.pagesPerCell === 1 ? '1 cell = 1 page (4 KiB)' : `1 cell = ${grid.pagesPerCell} pages (${formatBytes(grid.pagesPerCell * PAGE)})`;
    let resident = 0;
    map.forEachIn(grid.start, grid.end, (s, e, st) => {
      if (st === RESIDENT) resident += e - s;
    });
    const head = `◂ back   zoom ${formatAddress(grid.start)} – ${formatAddress(grid.end)} · ${formatBytes(grid.end - grid.start)}, ${formatBytes(resident)} resident · ${per}${grid.pagesPerCell > 1 ? ' · click a row to zoom in' : ''}`;
    ctx.fillText(head, 6, ZOOM_HEAD_H / 2);

    const rowBytes = grid.cols * grid.pagesPerCell * PAGE;
    ctx.textAlign = 'right';
    ctx.font = `10px ${MONO}`;
    ctx.fillStyle = COLORS.dim;
    const labelEvery = Math.max(1, Math.ceil(14 / CELL_H));
    for (let r = 0; r < grid.rows; r += labelEvery) {
      ctx.fillText(formatAddress(grid.start + r * rowBytes), HEADER_W, ZOOM_HEAD_H + r * CELL_H + CELL_H / 2);
    }
    ctx.textAlign = 'left';

    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const ch = Math.max(1, Math.round((CELL_H - 1) * dpr));
    for (let r = 0; r < grid.rows; r++) {
      const n = Math.min(grid.cols, grid.cells - r * grid.cols);
      const sub = grid.frac.subarray(r * grid.cols * 3, (r * grid.cols + n) * 3);
      const y = Math.round((ZOOM_HEAD_H + r * CELL_H) * dpr);
      const x = Math.round(barX * dpr);
      const w = Math.round(n * cellW * dpr);
      ctx.fillStyle = COLORS.groupBg;
      ctx.fillRect(x, y, w, ch);
      paintRuns(ctx, sub, n, x, y, cellW * dpr, ch);
    }
    // Cell separators, drawn once for the whole grid when cells are wide enough.
    if (cellW * dpr >= 4) {
      ctx.fillStyle = COLORS.bodyBg;
      const top = Math.round(ZOOM_HEAD_H * dpr);
      const gh = Math.round(grid.rows * CELL_H * dpr);
      for (let k = 1; k < grid.cols; k++) ctx.fillRect(Math.round((barX + k * cellW) * dpr), top, 1, gh);
    }
    ctx.restore();
  }

  /** What is at CSS pixel (x, y), or null. */
  hitTest(x: number, y: number): Hit | null {
    const barX = HEADER_W + BAR_GAP;
    if (this.grid) {
      const g = this.grid;
      if (y < ZOOM_HEAD_H) return { kind: 'zoom-header' };
      const r = Math.floor((y - ZOOM_HEAD_H) / CELL_H);
      const col = Math.floor(((x - barX) / this.barW) * g.cols);
      if (r < 0 || r >= g.rows || col < 0 || col >= g.cols) return null;
      const cell = r * g.cols + col;
      if (cell >= g.cells) return null;
      const cellBytes = g.pagesPerCell * PAGE;
      const cellStart = g.start + cell * cellBytes;
      const rowStart = g.start + r * g.cols * cellBytes;
      return {
        kind: 'zoom-cell',
        addr: cellStart,
        cellStart,
        cellEnd: Math.min(g.end, cellStart + cellBytes),
        rowStart,
        rowEnd: Math.min(g.end, rowStart + g.cols * cellBytes),
        pagesPerCell: g.pagesPerCell,
        frac: [g.frac[cell * 3]!, g.frac[cell * 3 + 1]!, g.frac[cell * 3 + 2]!],
      };
    }
    const box = this.boxes.find((b) => y >= b.y && y < b.y + b.h);
    if (!box) return null;
    if (box.row.kind === 'gap') return box.row.bytes < 0 ? { kind: 'more' } : { kind: 'gap', bytes: box.row.bytes };
    const g = box.row.group;
    if (x < barX || x >= barX + this.barW) {
      return x < barX ? { kind: 'group', addr: g.start, colStart: g.start, colEnd: g.start, groupStart: g.start, groupEnd: g.end, frac: [0, 0, 0] } : null;
    }
    const cols = box.frac ? box.frac.length / 3 : 1;
    const col = Math.min(cols - 1, Math.floor(((x - barX) / this.barW) * cols));
    const colBytes = g.scale / cols;
    const addr = g.start + Math.floor((col * colBytes) / PAGE) * PAGE;
    const f = box.frac;
    return {
      kind: 'group',
      addr: g.start + (x - barX) * (g.scale / this.barW),
      colStart: addr,
      colEnd: g.start + (col + 1) * colBytes,
      groupStart: g.start,
      groupEnd: g.end,
      frac: f ? [f[col * 3]!, f[col * 3 + 1]!, f[col * 3 + 2]!] : [0, 0, 0],
    };
  }
}

/**
 * Paints rasterised cells (fractions per slot, `n` cells of `cw` device
 * pixels from x0) as stacked bars, merging runs of identical cells into one
 * rectangle per state. Returns the number of rectangles drawn.
 */
export function paintRuns(
  ctx: CanvasRenderingContext2D,
  frac: Float32Array,
  n: number,
  x0: number,
  y0: number,
  cw: number,
  h: number,
): number {
  let rects = 0;
  let runStart = 0;
  let prev = heights(frac, 0, h);
  for (let c = 1; c <= n; c++) {
    const cur: Heights = c < n ? heights(frac, c, h) : [-1, -1, -1];
    if (cur[0] === prev[0] && cur[1] === prev[1] && cur[2] === prev[2]) continue;
    const xa = Math.round(x0 + runStart * cw);
    const xb = Math.round(x0 + c * cw);
    let y = y0 + h;
    prev.forEach((hs, s) => {
      if (hs <= 0) return;
      y -= hs;
      ctx.fillStyle = SLOT_COLORS[s]!;
      ctx.fillRect(xa, y, xb - xa, hs);
      rects++;
    });
    runStart = c;
    prev = cur;
  }
  return rects;
}

type Heights = [number, number, number];

/** ImageData pixels (RGBA bytes, read as little-endian uint32) of the slot colours and the bar background. */
function rgba(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}
const SLOT_PIXELS = SLOT_COLORS.map(rgba);
const BG_PIXEL = rgba(COLORS.groupBg);

/**
 * Fills a cols x h pixel buffer: per column the background, then the three
 * slots stacked from the bottom (resident lowest), as heights() sizes them.
 * Columns in a single state (the usual case) skip the stacking arithmetic.
 */
export function fillColumns(px: Uint32Array, frac: Float32Array, cols: number, h: number): void {
  const R = SLOT_PIXELS[0]!;
  const N = SLOT_PIXELS[1]!;
  const U = SLOT_PIXELS[2]!;
  for (let c = 0; c < cols; c++) {
    const f0 = frac[c * 3]!;
    const f1 = frac[c * 3 + 1]!;
    const f2 = frac[c * 3 + 2]!;
    let y = h;
    if (f0 >= 0.9995 || f1 >= 0.9995 || f2 >= 0.9995) {
      const color = f0 >= 0.9995 ? R : f1 >= 0.9995 ? N : U;
      while (y > 0) px[--y * cols + c] = color;
      continue;
    }
    const hs = heights(frac, c, h);
    for (let k = hs[0]; k > 0; k--) px[--y * cols + c] = R;
    for (let k = hs[1]; k > 0; k--) px[--y * cols + c] = N;
    for (let k = hs[2]; k > 0; k--) px[--y * cols + c] = U;
    while (y > 0) px[--y * cols + c] = BG_PIXEL;
  }
}

/**
 * Pixel heights of the three slots of one cell. The heights add up to the
 * cell's mapped fraction of h (all of h when the cell is fully mapped, so no
 * false "unmapped" sliver appears), and any state present gets at least 1 px,
 * so a single resident page in a mostly empty region stays visible.
 */
export function heights(frac: Float32Array, c: number, h: number): Heights {
  const f0 = Math.min(1, Math.max(0, frac[c * 3] ?? 0));
  const f1 = Math.min(1, Math.max(0, frac[c * 3 + 1] ?? 0));
  const f2 = Math.min(1, Math.max(0, frac[c * 3 + 2] ?? 0));
  const px = (v: number): number => (v > 0.0005 ? Math.max(1, Math.round(v * h)) : 0);
  const out: Heights = [px(f0), px(f1), px(f2)];
  const mapped = f0 + f1 + f2;
  const target = mapped >= 0.9995 ? h : Math.min(h, Math.max(mapped > 0.0005 ? 1 : 0, Math.round(mapped * h)));
  let total = out[0] + out[1] + out[2];
  // Trim or grow the largest band until the total is right.
  while (total > target) {
    if (out[0] >= out[1] && out[0] >= out[2]) out[0]--;
    else if (out[1] >= out[2]) out[1]--;
    else out[2]--;
    total--;
  }
  while (total < target) {
    if (f0 >= f1 && f0 >= f2) out[0]++;
    else if (f1 >= f2) out[1]++;
    else out[2]++;
    total++;
  }
  return out;
}
