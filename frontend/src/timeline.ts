/*
 * timeline — the model behind the scrub bar: the session's RSS curve and
 * process markers (GET /api/sessions/S/timeline, extended by live data), the
 * mapping between time and pixels, playback and the time label.
 *
 * Times are nanoseconds since the session began, as in events.
 */
import type { RssHistory } from './history';

export type MarkerKind = 'start' | 'exec' | 'exit';

export interface TimelineMarker {
  ts: number;
  kind: MarkerKind;
  pid: number;
}

export interface TimelineData {
  id: number;
  events: number;
  endTs: number;
  recorded: boolean;
  markers: TimelineMarker[];
  markersTruncated: boolean;
  ts: number[];
  rss: number[];
}

/** Replay speeds offered (multiples of real time). */
export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10] as const;

const uintOf = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

/** Validates the JSON of /api/sessions/S/timeline. Throws with a reason. */
export function parseTimeline(json: unknown): TimelineData {
  if (!json || typeof json !== 'object') throw new Error('timeline: not an object');
  const o = json as Record<string, unknown>;
  const id = uintOf(o.id);
  const endTs = uintOf(o.end_ts);
  if (id === null || endTs === null) throw new Error('timeline: id / end_ts missing');
  const markers: TimelineMarker[] = [];
  if (Array.isArray(o.markers)) {
    for (const m of o.markers) {
      if (!Array.isArray(m) || m.length < 3) continue;
      const ts = uintOf(m[0]);
      const kind = m[1];
      const pid = uintOf(m[2]);
      if (ts === null || pid === null || (kind !== 'start' && kind !== 'exec' && kind !== 'exit')) continue;
      markers.push({ ts, kind, pid });
    }
  }
  const ts: number[] = [];
  const rss: number[] = [];
  if (Array.isArray(o.rss)) {
    for (const p of o.rss) {
      if (!Array.isArray(p)) continue;
      const t = uintOf(p[0]);
      const r = uintOf(p[1]);
      if (t === null || r === null) continue;
      if (ts.length && t < ts[ts.length - 1]!) continue;
      ts.push(t);
      rss.push(r);
    }
  }
  return {
    id,
    events: uintOf(o.events) ?? 0,
    endTs,
    recorded: o.recorded === true,
    markers,
    markersTruncated: o.markers_truncated === true,
    ts,
    rss,
  };
}

/**
 * The curve to draw: the fetched points, then the live series' points after
 * the last fetched one (the timeline is fetched now and then; deltas keep the
 * live history current in between).
 */
export function mergeCurve(fetched: { ts: readonly number[]; rss: readonly number[] } | null, live: Pick<RssHistory, 'ts' | 'rss'> | null): { ts: number[]; rss: number[] } {
  const ts = fetched ? [...fetched.ts] : [];
  const rss = fetched ? [...fetched.rss] : [];
  if (live) {
    const last = ts.length ? ts[ts.length - 1]! : -1;
    for (let i = 0; i < live.ts.length; i++) {
      if (live.ts[i]! > last) {
        ts.push(live.ts[i]!);
        rss.push(live.rss[i]!);
      }
    }
  }
  return { ts, rss };
}

/** The RSS of a step curve at time t (the last point at or before t; 0 before the first). */
export function curveAt(curve: { ts: readonly number[]; rss: readonly number[] }, t: number): number {
  let lo = 0;
  let hi = curve.ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (curve.ts[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : curve.rss[lo - 1]!;
}

/** Horizontal mapping between time [0, end] and pixels [pad, width - pad]. */
export class TimeScale {
  constructor(
    readonly end: number,
    readonly width: number,
    readonly pad = 6,
  ) {}

  x(t: number): number {
    const span = Math.max(1, this.end);
    const w = Math.max(1, this.width - 2 * this.pad);
    return this.pad + (Math.min(Math.max(t, 0), span) / span) * w;
  }

  t(x: number): number {
    const span = Math.max(1, this.end);
    const w = Math.max(1, this.width - 2 * this.pad);
    const f = Math.min(1, Math.max(0, (x - this.pad) / w));
    return Math.round(f * span);
  }
}

/** The markers within `tolNs` of t, nearest first. */
export function markersNear(markers: readonly TimelineMarker[], t: number, tolNs: number): TimelineMarker[] {
  return markers.filter((m) => Math.abs(m.ts - t) <= tolNs).sort((a, b) => Math.abs(a.ts - t) - Math.abs(b.ts - t));
}

/** Where playback is after `dtMs` of wall time at `speed`; clamps to end and says whether it got there. */
export function advance(at: number, dtMs: number, speed: number, end: number): { at: number; done: boolean } {
  const next = at + Math.max(0, dtMs) * 1e6 * speed;
  if (next >= end) return { at: end, done: true };
  return { at: Math.round(next), done: false };
}

/** Picks the next / previous speed in SPEEDS from the current one. */
export function stepSpeed(speed: number, dir: 1 | -1): number {
  let i = SPEEDS.findIndex((s) => s >= speed - 1e-9);
  if (i < 0) i = SPEEDS.length - 1;
  const j = Math.min(SPEEDS.length - 1, Math.max(0, i + dir));
  return SPEEDS[j]!;
}

/** "1.234 s", "12.3 ms", "2 min 03.5 s": a session-relative time. */
export function formatTs(ns: number): string {
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  const s = ns / 1e9;
  if (s < 60) return `${s.toFixed(3)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${(s - m * 60).toFixed(1).padStart(4, '0')} s`;
}

/** The mode label: "LIVE", or "PAST t=1.234 s". */
export function modeLabel(pastAt: number | null): string {
  return pastAt === null ? 'LIVE' : `PAST t=${formatTs(pastAt)}`;
}
