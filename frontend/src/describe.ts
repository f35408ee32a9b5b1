/*
 * describe — the tooltip text for what the pointer is over. Pure: takes the
 * map, its extents and a hit, returns lines (the first is the title).
 */
import { type MemMap, RESIDENT } from './memmap';
import { extentAt, PAGE } from './layout';
import { formatAddress, formatBytes, formatRange } from './format';
import { STATE_LABELS } from './theme';
import type { Hit } from './render/mapcanvas';

const SLOT_LABELS = ['resident', 'not resident', 'untracked'] as const;

function pct(f: number): string {
  const p = f * 100;
  return p > 0 && p < 1 ? '<1%' : `${Math.round(p)}%`;
}

/** "62% resident · 38% not resident · 0% unmapped" for a mixed column or cell. */
function mix(frac: readonly [number, number, number]): string | null {
  const present = frac.filter((f) => f > 0.0005).length;
  const hole = Math.max(0, 1 - frac[0] - frac[1] - frac[2]);
  if (present + (hole > 0.0005 ? 1 : 0) <= 1) return null;
  const parts = frac.map((f, i) => (f > 0.0005 ? `${pct(f)} ${SLOT_LABELS[i]}` : '')).filter(Boolean);
  if (hole > 0.0005) parts.push(`${pct(hole)} unmapped`);
  return parts.join(' · ');
}

function mappingLine(map: MemMap, extents: Float64Array, addr: number): string | null {
  const ext = extentAt(extents, addr);
  if (!ext) return null;
  let resident = 0;
  map.forEachIn(ext[0], ext[1], (s, e, st) => {
    if (st === RESIDENT) resident += e - s;
  });
  const size = ext[1] - ext[0];
  return `mapping ${formatRange(ext[0], ext[1])} · ${formatBytes(size)}, ${formatBytes(resident)} resident (${pct(resident / size)})`;
}

function rangeLines(map: MemMap, addr: number): string[] {
  const r = map.lookup(addr);
  if (!r) return [`${formatAddress(addr)} · unmapped`];
  return [formatRange(r[0], r[1]), `${formatBytes(r[1] - r[0])} · ${STATE_LABELS[r[2]]}`];
}

export function describeHit(map: MemMap, extents: Float64Array, hit: Hit): string[] | null {
  switch (hit.kind) {
    case 'gap':
      return [`${formatBytes(hit.bytes)} of address space with nothing tracked`, 'between two groups'];
    case 'more':
      return ['too many groups to draw', 'filter or zoom to see the rest'];
    case 'zoom-header':
      return ['back to the whole map', 'click, or press Esc'];
    case 'group': {
      if (hit.colStart === hit.colEnd) {
        return [`group at ${formatAddress(hit.groupStart)}`, `${formatRange(hit.groupStart, hit.groupEnd)} · ${formatBytes(hit.groupEnd - hit.groupStart)}`, 'click to zoom to pages'];
      }
      const addr = Math.floor(hit.addr / PAGE) * PAGE;
      const lines = rangeLines(map, addr);
      const m = mappingLine(map, extents, addr);
      if (m) lines.push(m);
      const x = mix(hit.frac);
      if (x) lines.push(`this pixel ${formatRange(hit.colStart, Math.ceil(hit.colEnd / PAGE) * PAGE)}: ${x}`);
      lines.push('click to zoom to pages');
      return lines;
    }
    case 'zoom-cell': {
      const lines: string[] = [];
      if (hit.pagesPerCell === 1) {
        const r = map.lookup(hit.addr);
        lines.push(`page ${formatAddress(hit.addr)} · ${r ? STATE_LABELS[r[2]] : 'unmapped'}`);
        if (r) lines.push(`in range ${formatRange(r[0], r[1])} · ${formatBytes(r[1] - r[0])}`);
      } else {
        lines.push(`${formatRange(hit.cellStart, hit.cellEnd)} · ${hit.pagesPerCell} pages`);
        const x = mix(hit.frac);
        const r = map.lookup(hit.addr);
        lines.push(x ?? (r ? STATE_LABELS[r[2]] : 'unmapped'));
      }
      const m = mappingLine(map, extents, hit.addr);
      if (m) lines.push(m);
      if (hit.pagesPerCell > 1) lines.push('click to zoom into this row');
      return lines;
    }
  }
}
