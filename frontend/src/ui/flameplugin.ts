/*
 * flameplugin — the flame graph's drawing, as a flame-chart-js plugin: the
 * library keeps what it does well (the canvas, wheel zoom, drag pan, hit
 * testing, the tooltip box) and this plugin draws a FlameLayout (flame.ts)
 * in time proportional to the pixels shown, not to the frames in the tree:
 *
 *  - per depth, a binary search finds the first frame in view, and frames
 *    narrower than a pixel are drawn as one pixel column each (the first
 *    frame in the column gives its colour) and the rest of the column is
 *    skipped with another binary search: at most ~width rectangles a row,
 *    whether the tree has 40 or 40,000 frames;
 *  - rectangles are batched by colour (one path and one fill per colour);
 *  - a frame's label is cut by its character count (the font is
 *    monospace: one measured character width), no measureText per frame;
 *  - hit regions only for what was drawn.
 *
 * The library's own FlameChartPlugin walks and re-clusters every node on
 * every frame and hashes them by colour (one colour per frame name here, so
 * nothing clusters): 42,000 nodes cost most of a frame at 20,000 stacks.
 */
import { UIPlugin } from 'flame-chart-js';
import { FlameLayout, type FlameNode } from '../flame';

/** What a hit region carries (region.data). */
interface Hit {
  node: FlameNode;
  depth: number;
  index: number;
}

/** The library's region type is a const enum; ours is a string of our own. */
type RegionType = Parameters<UIPlugin['interactionsEngine']['addHitRegion']>[0];
const FLAME = 'flame' as unknown as RegionType;

interface Region {
  type: string;
  data: Hit;
}

export class FlameDrawPlugin extends UIPlugin {
  height: 'flexible' = 'flexible';
  override min = 0;
  override max = 0;
  private layout: FlameLayout | null = null;
  private positionY = 0;
  private hovered: Hit | null = null;
  private selected: FlameNode | null = null;
  /** Rectangles of this frame by colour: [x, y, w, x, y, w, ...]. */
  private readonly batches = new Map<string, number[]>();
  /** Labels of this frame: [text, x, y, ...]. */
  private readonly texts: (string | number)[] = [];
  /** Labels cut to a number of characters, by name. */
  private readonly cut = new Map<string, Map<number, string>>();

  /** describe(node) gives the tooltip lines of a frame. */
  constructor(private readonly describe: (n: FlameNode) => string[]) {
    super('flame');
  }

  override init(renderEngine: UIPlugin['renderEngine'], interactionsEngine: UIPlugin['interactionsEngine']): void {
    super.init(renderEngine, interactionsEngine);
    interactionsEngine.on('change-position', (d: { deltaX: number; deltaY: number }) => this.move(d));
    interactionsEngine.on('select', (region: Region | null) => this.select(region));
    interactionsEngine.on('hover', (region: Region | null) => {
      this.hovered = region?.type === 'flame' ? region.data : null;
    });
    interactionsEngine.on('up', () => interactionsEngine.clearCursor());
  }

  /**
   * Shows a layout. fresh: a new tree (another process, value or diff):
   * the view is reset to the whole width; otherwise (the same tree, bytes
   * changed) the zoom and position are kept.
   */
  setLayout(layout: FlameLayout, fresh: boolean): void {
    this.layout = layout;
    if (fresh) {
      this.positionY = 0;
      this.selected = null;
      this.hovered = null;
    }
    const max = Math.max(1, layout.total);
    if (!this.renderEngine) {
      this.max = max;
      return;
    }
    if (max !== this.max || fresh) {
      this.max = max;
      this.renderEngine.recalcMinMax();
      if (fresh) this.renderEngine.resetParentView();
      else this.renderEngine.tryToChangePosition(0);
    }
    // The chart's render, not this plugin's: flame-chart-js draws it once
    // at the next animation frame, with whatever a wheel or a drag asked for
    // in the meantime (a plugin's own render is a second, separate one).
    this.renderEngine.parent.render();
  }

  private move({ deltaX, deltaY }: { deltaX: number; deltaY: number }): void {
    const e = this.renderEngine;
    const y0 = this.positionY;
    const x0 = e.parent.positionX;
    this.interactionsEngine.setCursor('grabbing');
    this.positionY = Math.max(0, this.positionY + deltaY);
    e.tryToChangePosition(deltaX);
    if (x0 !== e.parent.positionX || y0 !== this.positionY) e.parent.render();
  }

  private select(region: Region | null): void {
    const n = region?.type === 'flame' ? region.data.node : null;
    if (n !== this.selected) {
      this.selected = n;
      this.renderEngine.render();
    }
    this.emit('select', { node: n });
  }

  override renderTooltip(): boolean {
    if (!this.hovered) return false;
    const lines = this.describe(this.hovered.node).map((text) => ({ text }));
    this.renderEngine.renderTooltipFromData(lines, this.interactionsEngine.getGlobalMouse());
    return true;
  }

  /** The label of n in at most chars characters ('' when none fits). */
  private label(name: string, chars: number): string {
    if (name.length <= chars) return name;
    if (chars < 2) return '';
    let m = this.cut.get(name);
    if (!m) {
      if (this.cut.size > 50_000) this.cut.clear();
      m = new Map();
      this.cut.set(name, m);
    }
    let t = m.get(chars);
    if (t === undefined) {
      const half = (chars - 1) / 2;
      t = `${name.slice(0, Math.ceil(half))}…${name.slice(name.length - Math.floor(half))}`;
      m.set(chars, t);
    }
    return t;
  }

  override render(): boolean {
    const e = this.renderEngine;
    const l = this.layout;
    if (!l) return true;
    const ctx = e.ctx;
    const { width, height, blockHeight, zoom } = e;
    const pos = e.positionX;
    const rowH = blockHeight + 1;
    const charW = e.avgCharWidth || 7;
    const pad = e.blockPaddingLeftRight;
    for (const list of this.batches.values()) list.length = 0;
    const texts = this.texts;
    texts.length = 0;
    const hits = this.interactionsEngine;
    const firstDepth = Math.max(0, Math.floor(this.positionY / rowH));
    const lastDepth = Math.min(l.rows.length - 1, Math.floor((this.positionY + height) / rowH));
    const viewEnd = pos + width / zoom;
    // Sub-pixel columns are hit regions on the pointer's row only (the engine
    // looks them up by a linear search, and the row is where the pointer is).
    const mouseDepth = Math.floor((hits.getMouse().y + this.positionY) / rowH);
    for (let d = firstDepth; d <= lastDepth; d++) {
      const row = l.rows[d]!;
      const y = d * rowH - this.positionY;
      const n = row.nodes.length;
      let i = FlameLayout.firstAfter(row, pos);
      while (i < n) {
        const x0 = row.x[i]!;
        if (x0 >= viewEnd) break;
        const w0 = row.w[i]!;
        const node = row.nodes[i]!;
        const x = (x0 - pos) * zoom;
        const w = w0 * zoom;
        if (w0 <= 0) {
          i++;
          continue;
        }
        let list = this.batches.get(node.color ?? '#888');
        if (!list) {
          list = [];
          this.batches.set(node.color ?? '#888', list);
        }
        if (w < 1) {
          // One pixel column for every frame starting in it (widening the
          // last rectangle when the column left of it has the same colour).
          const px = Math.floor(x);
          const k = list.length;
          if (k !== 0 && list[k - 2] === y && list[k - 3]! + list[k - 1]! === px) list[k - 1]!++;
          else list.push(px, y, 1);
          if (d === mouseDepth) hits.addHitRegion(FLAME, { node, depth: d, index: i }, px, y, 1, blockHeight);
          const next = FlameLayout.firstAfter(row, pos + (px + 1) / zoom);
          i = Math.max(i + 1, next);
          continue;
        }
        // Wide frames keep a one-pixel gap to their right neighbour.
        const cx = Math.max(0, x);
        const cw = Math.min(width, x + (w >= 3 ? w - 1 : w - w / 3)) - cx;
        list.push(cx, y, cw);
        hits.addHitRegion(FLAME, { node, depth: d, index: i }, cx, y, cw, blockHeight);
        const chars = Math.floor((cw - 2 * pad) / charW);
        if (chars >= 2) {
          const text = this.label(node.name, chars);
          if (text) texts.push(text, cx + pad, y + blockHeight - e.blockPaddingTopBottom);
        }
        i++;
      }
    }
    for (const [color, list] of this.batches) {
      if (list.length === 0) continue;
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let k = 0; k < list.length; k += 3) ctx.rect(list[k]!, list[k + 1]!, list[k + 2]!, blockHeight);
      ctx.fill();
    }
    if (texts.length) {
      ctx.fillStyle = e.styles.fontColor;
      for (let k = 0; k < texts.length; k += 3) ctx.fillText(texts[k] as string, texts[k + 1] as number, texts[k + 2] as number);
    }
    if (this.selected) this.strokeSelected(l, rowH);
    // The canvas state was changed behind the engine's cache of it.
    e.ctxCachedSettings = {};
    e.ctxCachedCalls = {};
    return true;
  }

  private strokeSelected(l: FlameLayout, rowH: number): void {
    const e = this.renderEngine;
    const n = this.selected!;
    // Where the layout put it (a frame of another layout has no place here).
    const d = n.depth ?? -1;
    const i = n.index ?? -1;
    const row = l.rows[d];
    if (!row || row.nodes[i] !== n) return;
    const x = (row.x[i]! - e.positionX) * e.zoom;
    e.ctx.strokeStyle = 'green';
    e.ctx.strokeRect(x, d * rowH - this.positionY, Math.max(1, row.w[i]! * e.zoom), e.blockHeight);
  }
}
