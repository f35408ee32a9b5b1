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
 *
 * Annotations (protocol version 2): a thin stripe above each bar shows the
 * memory kind of each column (from the vma map), and "group by call site"
 * colours each column by the stack that mapped it (the origin map), resident
 * bright, swapped mid, not resident dark. Both are rasterised by one walk of
 * the annotation map per bar (layout.rasterizeTags), like the pages.
 */
import type { DiffRange } from '../diff';
import { DIFF_COLORS } from '../diffcolors';
import { type MemMap, RESIDENT } from '../memmap';
import type { TagMap } from '../tagmap';
import { KIND_COLORS, stackRgb } from '../annotate';
import { heatPalette, heatSlotColors } from '../heat';
import { vmaKind } from '../store';
import { formatAddress, formatBytes } from '../format';
import {
  buildRows,
  layoutMap,
  rasterize,
  rasterizeGrid,
  rasterizeTags,
  SLOTS,
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

/** Slot order in raster fractions: resident, swapped, not resident, untracked. */
const SLOT_COLORS = [COLORS.resident, COLORS.swapped, COLORS.notResident, COLORS.untracked];

/** Device pixels of the kind stripe above a bar (the last one is a gap). */
const STRIPE_PX = 4;

/** Fractions of one column or cell, in slot order. */
export type Frac = [resident: number, swapped: number, notResident: number, untracked: number];

/** What a map canvas draws besides the page states. */
export interface Annotations {
  vmas: TagMap;
  origins: TagMap;
  /** Version 3: last-write times in ms (heat.ts), when the process has them. */
  written?: TagMap;
}

/** How annotations are shown. */
export interface PaintOptions {
  /** Colour ranges by the stack that mapped them. */
  bySite: boolean;
  /** With bySite: the stack id (or ids: a flame graph frame) whose ranges stand out (others are dimmed), or null. */
  highlight: Highlight;
  /** The heat overlay (heat.ts): resident memory coloured by its last write, or null. */
  heat?: { nowMs: number; coldS: number | null } | null;
}

/** One stack id, a set of them, or none. */
export type Highlight = number | ReadonlySet<number> | null;

/** Whether memory of stack id is dimmed under a highlight. */
function dimmed(id: number, highlight: Highlight): boolean {
  if (highlight === null) return false;
  return typeof highlight === 'number' ? id !== highlight : !highlight.has(id);
}

export interface ZoomWindow {
  start: number;
  end: number;
}

/** What a point on the canvas shows. */
export type Hit =
  | { kind: 'group'; addr: number; colStart: number; colEnd: number; groupStart: number; groupEnd: number; frac: Frac }
  | { kind: 'gap'; bytes: number }
  | { kind: 'zoom-cell'; addr: number; cellStart: number; cellEnd: number; rowStart: number; rowEnd: number; pagesPerCell: number; frac: Frac }
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
  /** The annotations of the map drawn, or null (none: a version 1 view, a test). */
  ann: Annotations | null = null;
  paint: PaintOptions = { bySite: false, highlight: null };

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
    const ann = this.ann;
    const kinds = ann && ann.vmas.count > 0 ? rasterizeTags(ann.vmas, g.start, g.scale, cols) : null;
    const sites = ann && this.paint.bySite ? rasterizeTags(ann.origins, g.start, g.scale, cols) : null;
    const heat = ann?.written && this.paint.heat ? rasterizeTags(ann.written, g.start, g.scale, cols) : null; // heat overlay
    this.paintBar(r.frac, cols, Math.round(barX * dpr), Math.round(barY * dpr), Math.round(barH * dpr), kinds, sites, heat);

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
  private paintBar(frac: Float32Array, cols: number, x0: number, y0: number, h: number, kinds: Float64Array | null, sites: Float64Array | null, heat: Float64Array | null = null): void {
    if (!this.img || this.img.width !== cols || this.img.height !== h) {
      this.img = this.ctx.createImageData(cols, h);
      this.px = new Uint32Array(this.img.data.buffer);
    }
    const px = this.px!;
    let top = 0;
    if (kinds) {
      top = Math.min(STRIPE_PX, h >> 2);
      fillStripe(px, frac, kinds, cols, top);
    }
    const hp = this.paint.heat;
    const palette = heat && hp ? heatPalette(heat, cols, hp.nowMs, SLOT_PIXELS, hp.coldS, kinds) : sites ? sitePalette(sites, cols, this.paint.highlight) : null;
    fillColumns(top ? px.subarray(top * cols) : px, frac, cols, h - top, palette);
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
    const cellBytesAll = grid.pagesPerCell * PAGE;
    const span = grid.cells * cellBytesAll;
    const sites = this.ann && this.paint.bySite ? rasterizeTags(this.ann.origins, grid.start, span, grid.cells) : null;
    // The heat overlay (heat.ts), as on the bars: each cell's resident part in
    // the colour of its last write; it takes precedence over call sites.
    const hp = this.paint.heat;
    const written = this.ann?.written && hp ? rasterizeTags(this.ann.written, grid.start, span, grid.cells) : null;
    const vmas = written && this.ann!.vmas.count > 0 ? rasterizeTags(this.ann!.vmas, grid.start, span, grid.cells) : null;
    for (let r = 0; r < grid.rows; r++) {
      const n = Math.min(grid.cols, grid.cells - r * grid.cols);
      const sub = grid.frac.subarray(r * grid.cols * SLOTS, (r * grid.cols + n) * SLOTS);
      const y = Math.round((ZOOM_HEAD_H + r * CELL_H) * dpr);
      const x = Math.round(barX * dpr);
      const w = Math.round(n * cellW * dpr);
      ctx.fillStyle = COLORS.groupBg;
      ctx.fillRect(x, y, w, ch);
      const off = r * grid.cols;
      const sl = sites ? sites.subarray(off, off + n) : null;
      const colors =
        written && hp
          ? (c: number) => heatSlotColors(written[off + c]!, hp.nowMs, hp.coldS, SLOT_COLORS, vmas ? vmas[off + c]! : -1)
          : sl
            ? (c: number) => siteColors(sl[c]!, this.paint.highlight)
            : undefined;
      paintRuns(ctx, sub, n, x, y, cellW * dpr, ch, colors);
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
        frac: fracAt(g.frac, cell),
      };
    }
    const box = this.boxes.find((b) => y >= b.y && y < b.y + b.h);
    if (!box) return null;
    if (box.row.kind === 'gap') return box.row.bytes < 0 ? { kind: 'more' } : { kind: 'gap', bytes: box.row.bytes };
    const g = box.row.group;
    if (x < barX || x >= barX + this.barW) {
      return x < barX ? { kind: 'group', addr: g.start, colStart: g.start, colEnd: g.start, groupStart: g.start, groupEnd: g.end, frac: [0, 0, 0, 0] } : null;
    }
    const cols = box.frac ? box.frac.length / SLOTS : 1;
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
      frac: f ? fracAt(f, col) : [0, 0, 0, 0],
    };
  }
}

function fracAt(f: Float32Array, c: number): Frac {
  return [f[c * SLOTS]!, f[c * SLOTS + 1]!, f[c * SLOTS + 2]!, f[c * SLOTS + 3]!];
}

/**
 * Paints rasterised cells (fractions per slot, `n` cells of `cw` device
 * pixels from x0) as stacked bars, merging runs of identical cells into one
 * rectangle per state. `colors(c)`, when given, is the slot colours of cell
 * c (group by call site); the same array object for cells of one colour.
 * Returns the number of rectangles drawn.
 */
export function paintRuns(
  ctx: CanvasRenderingContext2D,
  frac: Float32Array,
  n: number,
  x0: number,
  y0: number,
  cw: number,
  h: number,
  colors?: (cell: number) => readonly string[],
): number {
  let rects = 0;
  let runStart = 0;
  let prev = heights(frac, 0, h);
  let prevColors = colors ? colors(0) : SLOT_COLORS;
  for (let c = 1; c <= n; c++) {
    const cur: Heights = c < n ? heights(frac, c, h) : [-1, -1, -1, -1];
    const curColors = c < n && colors ? colors(c) : SLOT_COLORS;
    if (cur[0] === prev[0] && cur[1] === prev[1] && cur[2] === prev[2] && cur[3] === prev[3] && curColors === prevColors) continue;
    const xa = Math.round(x0 + runStart * cw);
    const xb = Math.round(x0 + c * cw);
    let y = y0 + h;
    prev.forEach((hs, s) => {
      if (hs <= 0) return;
      y -= hs;
      ctx.fillStyle = prevColors[s]!;
      ctx.fillRect(xa, y, xb - xa, hs);
      rects++;
    });
    runStart = c;
    prev = cur;
    prevColors = curColors;
  }
  return rects;
}

type Heights = [number, number, number, number];

/** ImageData pixels (RGBA bytes, read as little-endian uint32) of the slot colours and the bar background. */
function rgba(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}
function rgbaOf([r, g, b]: readonly [number, number, number]): number {
  return ((0xff << 24) | (b << 16) | (g << 8) | r) >>> 0;
}
const SLOT_PIXELS = Uint32Array.from(SLOT_COLORS.map(rgba));
const BG_PIXEL = rgba(COLORS.groupBg);
const KIND_PIXELS = KIND_COLORS.map(rgba);

/** Slot colours of memory with no known origin, and of dimmed (not highlighted) memory. */
const NO_SITE = ['#8d8d8d', '#6d5a80', '#3b3b3b', COLORS.untracked];
const DIMMED = ['#3a3f46', '#2f2c38', '#1c2430', '#3a3520'];
const siteColorCache = new Map<number, string[]>();

/** Slot colours (resident, swapped, not resident, untracked) of a stack id under a highlight. */
export function siteColors(id: number, highlight: Highlight): readonly string[] {
  if (dimmed(id, highlight)) return DIMMED;
  if (id < 0) return NO_SITE;
  let c = siteColorCache.get(id);
  if (!c) {
    const hex = (rgb: [number, number, number]): string => `#${rgb.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
    c = [hex(stackRgb(id, 0.58)), hex(stackRgb(id, 0.4)), hex(stackRgb(id, 0.2)), COLORS.untracked];
    siteColorCache.set(id, c);
  }
  return c;
}

const sitePixelCache = new Map<number, Uint32Array>();
const NO_SITE_PIXELS = Uint32Array.from(NO_SITE.map(rgba));
const DIMMED_PIXELS = Uint32Array.from(DIMMED.map(rgba));

function sitePixels(id: number, highlight: Highlight): Uint32Array {
  if (dimmed(id, highlight)) return DIMMED_PIXELS;
  if (id < 0) return NO_SITE_PIXELS;
  let p = sitePixelCache.get(id);
  if (!p) {
    p = Uint32Array.from([rgbaOf(stackRgb(id, 0.58)), rgbaOf(stackRgb(id, 0.4)), rgbaOf(stackRgb(id, 0.2)), SLOT_PIXELS[3]!]);
    sitePixelCache.set(id, p);
  }
  return p;
}

/** Per-column slot pixels (cols x SLOTS) for group-by-call-site colouring. */
export function sitePalette(sites: Float64Array, cols: number, highlight: Highlight): Uint32Array {
  const pal = new Uint32Array(cols * SLOTS);
  for (let c = 0; c < cols; c++) pal.set(sitePixels(sites[c]!, highlight), c * SLOTS);
  return pal;
}

/**
 * The kind stripe: `rows` pixel rows at the top of a bar, the kind colour of
 * each mapped column (background where nothing is mapped or annotated), the
 * last row a gap.
 */
export function fillStripe(px: Uint32Array, frac: Float32Array, kinds: Float64Array, cols: number, rows: number): void {
  for (let c = 0; c < cols; c++) {
    const mapped = frac[c * SLOTS]! + frac[c * SLOTS + 1]! + frac[c * SLOTS + 2]! + frac[c * SLOTS + 3]! > 0.0005;
    const k = kinds[c]!;
    const color = mapped && k >= 0 ? KIND_PIXELS[vmaKind(k)]! : BG_PIXEL;
    for (let y = 0; y < rows - 1; y++) px[y * cols + c] = color;
    px[(rows - 1) * cols + c] = BG_PIXEL;
  }
}

/**
 * Fills a cols x h pixel buffer: per column the background, then the four
 * slots stacked from the bottom (resident lowest), as heights() sizes them.
 * `palette` (cols x SLOTS pixels) gives each column its own slot colours.
 * Columns in a single state (the usual case) skip the stacking arithmetic.
 */
export function fillColumns(px: Uint32Array, frac: Float32Array, cols: number, h: number, palette: Uint32Array | null = null): void {
  let pal: Uint32Array = SLOT_PIXELS;
  for (let c = 0; c < cols; c++) {
    if (palette) pal = palette.subarray(c * SLOTS, c * SLOTS + SLOTS);
    const base = c * SLOTS;
    let full = -1;
    for (let k = 0; k < SLOTS; k++) if (frac[base + k]! >= 0.9995) full = k;
    let y = h;
    if (full >= 0) {
      const color = pal[full]!;
      while (y > 0) px[--y * cols + c] = color;
      continue;
    }
    const hs = heights(frac, c, h);
    for (let k = 0; k < SLOTS; k++) {
      const color = pal[k]!;
      for (let n = hs[k]!; n > 0; n--) px[--y * cols + c] = color;
    }
    while (y > 0) px[--y * cols + c] = BG_PIXEL;
  }
}

/**
 * Pixel heights of the four slots of one cell. The heights add up to the
 * cell's mapped fraction of h (all of h when the cell is fully mapped, so no
 * false "unmapped" sliver appears), and any state present gets at least 1 px,
 * so a single resident page in a mostly empty region stays visible.
 */
export function heights(frac: Float32Array, c: number, h: number): Heights {
  const f: Heights = [0, 0, 0, 0];
  for (let k = 0; k < SLOTS; k++) f[k] = Math.min(1, Math.max(0, frac[c * SLOTS + k] ?? 0));
  const px = (v: number): number => (v > 0.0005 ? Math.max(1, Math.round(v * h)) : 0);
  const out: Heights = [px(f[0]), px(f[1]), px(f[2]), px(f[3])];
  const mapped = f[0] + f[1] + f[2] + f[3];
  const target = mapped >= 0.9995 ? h : Math.min(h, Math.max(mapped > 0.0005 ? 1 : 0, Math.round(mapped * h)));
  let total = out[0] + out[1] + out[2] + out[3];
  // Trim the largest band, or grow the largest fraction, until the total is right.
  while (total > target) {
    let m = 0;
    for (let k = 1; k < SLOTS; k++) if (out[k]! > out[m]!) m = k;
    out[m]!--;
    total--;
  }
  while (total < target) {
    let m = 0;
    for (let k = 1; k < SLOTS; k++) if (f[k]! > f[m]!) m = k;
    out[m]!++;
    total++;
  }
  return out;
}
