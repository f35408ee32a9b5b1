/*
 * urlstate — what is selected, as a URL query, so a link reopens the same view.
 *
 *   ?session=2&q=cargo&zoom=2:4242:7f0000000000-7f0004000000&gaps=0&nonres=0&collapsed=2:4243,2:4250&at=1500000000&diff=0-1500000000
 *
 * Pausing is deliberately not part of it. `at` (ns since the session began)
 * shows the selected session at that past moment; `diff=A-B` highlights what
 * changed between two moments. Both need `session`. `by=site` colours the
 * maps by call site; `site=ID` highlights the ranges one stack mapped.
 */

export interface Zoom {
  sessionId: number;
  pid: number;
  start: number;
  end: number;
}

export interface ViewState {
  /** The session shown, or null for all sessions. */
  session: number | null;
  /** Filter box text. */
  q: string;
  zoom: Zoom | null;
  showGaps: boolean;
  showNonResident: boolean;
  /** Collapsed processes as "<session>:<pid>". */
  collapsed: Set<string>;
  /** Past moment shown (ns since the session began), null for live. Needs session. */
  at: number | null;
  /** Diff between two moments (ns), null for none. Needs session. */
  diff: [number, number] | null;
  /** Colour ranges by the call stack that mapped them. */
  bySite: boolean;
  /** The stack id highlighted (with bySite), or null. */
  site: number | null;
}

export function defaultViewState(): ViewState {
  return { session: null, q: '', zoom: null, showGaps: true, showNonResident: true, collapsed: new Set(), at: null, diff: null, bySite: false, site: null };
}

function parseIntStrict(s: string | null, radix = 10): number | null {
  if (s === null || s === '') return null;
  const re = radix === 16 ? /^[0-9a-f]+$/i : /^\d+$/;
  if (!re.test(s)) return null;
  const n = parseInt(s, radix);
  return Number.isSafeInteger(n) ? n : null;
}

function parseZoom(s: string | null): Zoom | null {
  if (!s) return null;
  const m = /^(\d+):(\d+):([0-9a-f]+)-([0-9a-f]+)$/i.exec(s);
  if (!m) return null;
  const sessionId = parseIntStrict(m[1]!);
  const pid = parseIntStrict(m[2]!);
  const start = parseIntStrict(m[3]!, 16);
  const end = parseIntStrict(m[4]!, 16);
  if (sessionId === null || pid === null || start === null || end === null || end <= start) return null;
  return { sessionId, pid, start, end };
}

/** Parses a location.search string; unknown or malformed parameters fall back to defaults. */
export function parseViewState(search: string): ViewState {
  const p = new URLSearchParams(search);
  const v = defaultViewState();
  v.session = parseIntStrict(p.get('session'));
  v.q = p.get('q') ?? '';
  v.zoom = parseZoom(p.get('zoom'));
  if (p.get('gaps') === '0') v.showGaps = false;
  if (p.get('nonres') === '0') v.showNonResident = false;
  v.bySite = p.get('by') === 'site';
  v.site = parseIntStrict(p.get('site'));
  const c = p.get('collapsed');
  if (c) for (const k of c.split(',')) if (/^\d+:\d+$/.test(k)) v.collapsed.add(k);
  if (v.session !== null) {
    v.at = parseIntStrict(p.get('at'));
    const d = /^(\d+)-(\d+)$/.exec(p.get('diff') ?? '');
    if (d) {
      const a = parseIntStrict(d[1]!);
      const b = parseIntStrict(d[2]!);
      if (a !== null && b !== null) v.diff = [a, b];
    }
  }
  return v;
}

/** The query string for a state ("" for the defaults, else "?..."). Stable order. */
export function serializeViewState(v: ViewState): string {
  const p = new URLSearchParams();
  if (v.session !== null) p.set('session', String(v.session));
  if (v.q) p.set('q', v.q);
  if (v.zoom) p.set('zoom', `${v.zoom.sessionId}:${v.zoom.pid}:${v.zoom.start.toString(16)}-${v.zoom.end.toString(16)}`);
  if (!v.showGaps) p.set('gaps', '0');
  if (!v.showNonResident) p.set('nonres', '0');
  if (v.collapsed.size) p.set('collapsed', [...v.collapsed].sort().join(','));
  if (v.session !== null && v.at !== null) p.set('at', String(v.at));
  if (v.session !== null && v.diff) p.set('diff', `${v.diff[0]}-${v.diff[1]}`);
  if (v.bySite) p.set('by', 'site');
  if (typeof v.site === 'number') p.set('site', String(v.site));
  const s = p.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
  return s ? `?${s}` : '';
}
