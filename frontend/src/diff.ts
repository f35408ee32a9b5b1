/*
 * diff — what changed in one process's memory between two moments A and B,
 * from its two maps (flat [start, end, state, ...] lists, sorted, as in
 * snapshots and MemMap.toFlat()).
 *
 *   resident  mapped at both, not resident at A, resident at B
 *   dropped   mapped at both, resident at A, not resident (or untracked) at B
 *   mapped    nothing mapped there at A, mapped at B
 *   unmapped  mapped at A, nothing mapped there at B
 *
 * Adjacent ranges of the same kind are merged. O(n + m).
 */

export type DiffKind = 'resident' | 'dropped' | 'mapped' | 'unmapped';
export const DIFF_KINDS: readonly DiffKind[] = ['resident', 'dropped', 'mapped', 'unmapped'];

export interface DiffRange {
  start: number;
  end: number;
  kind: DiffKind;
}

export type DiffTotals = Record<DiffKind, number>;

const RESIDENT = 1;

function classify(a: number, b: number): DiffKind | null {
  if (a < 0 && b < 0) return null;
  if (a < 0) return 'mapped';
  if (b < 0) return 'unmapped';
  if (a !== RESIDENT && b === RESIDENT) return 'resident';
  if (a === RESIDENT && b !== RESIDENT) return 'dropped';
  return null;
}

/** The diff of two flat range lists; state -1 stands for "nothing mapped". */
export function diffRanges(a: ArrayLike<number>, b: ArrayLike<number>): DiffRange[] {
  const out: DiffRange[] = [];
  let i = 0;
  let j = 0;
  const na = a.length;
  const nb = b.length;
  // Sweep over every boundary of either list.
  let pos = Math.min(na ? a[0]! : Infinity, nb ? b[0]! : Infinity);
  while (pos < Infinity) {
    while (i < na && a[i + 1]! <= pos) i += 3;
    while (j < nb && b[j + 1]! <= pos) j += 3;
    if (i >= na && j >= nb) break;
    const inA = i < na && a[i]! <= pos;
    const inB = j < nb && b[j]! <= pos;
    const sa = inA ? a[i + 2]! : -1;
    const sb = inB ? b[j + 2]! : -1;
    // The next boundary: the end of a current range or the start of the next one.
    let next = Infinity;
    if (i < na) next = Math.min(next, inA ? a[i + 1]! : a[i]!);
    if (j < nb) next = Math.min(next, inB ? b[j + 1]! : b[j]!);
    const kind = classify(sa, sb);
    if (kind) {
      const last = out[out.length - 1];
      if (last && last.kind === kind && last.end === pos) last.end = next;
      else out.push({ start: pos, end: next, kind });
    }
    pos = next;
  }
  return out;
}

/** Bytes per kind. */
export function diffTotals(ranges: readonly DiffRange[]): DiffTotals {
  const t: DiffTotals = { resident: 0, dropped: 0, mapped: 0, unmapped: 0 };
  for (const r of ranges) t[r.kind] += r.end - r.start;
  return t;
}

/** Converts /api/state's [[start, end, "state"], ...] into a flat list. */
export function flatFromJson(ranges: unknown): number[] {
  const out: number[] = [];
  if (!Array.isArray(ranges)) return out;
  const names: Record<string, number> = { not_resident: 0, resident: 1, untracked: 2 };
  for (const r of ranges) {
    if (!Array.isArray(r) || r.length < 3) continue;
    const [s, e, st] = r as unknown[];
    const state = typeof st === 'string' ? names[st] : typeof st === 'number' ? st : undefined;
    if (typeof s !== 'number' || typeof e !== 'number' || state === undefined || e <= s) continue;
    out.push(s, e, state);
  }
  return out;
}

/**
 * Per-process diffs of one session between two /api/state?session=S&at=T
 * answers, keyed by pid. A pid only at B diffs against nothing (all mapped),
 * only at A against nothing (all unmapped).
 */
export function diffStates(a: unknown, b: unknown, sessionId: number): Map<number, DiffRange[]> {
  const procs = (j: unknown): Map<number, number[]> => {
    const m = new Map<number, number[]>();
    const sessions = (j as { sessions?: unknown })?.sessions;
    if (!Array.isArray(sessions)) return m;
    for (const s of sessions as { id?: unknown; processes?: unknown }[]) {
      if (s?.id !== sessionId || !Array.isArray(s.processes)) continue;
      for (const p of s.processes as { pid?: unknown; ranges?: unknown }[]) {
        if (typeof p?.pid === 'number') m.set(p.pid, flatFromJson(p.ranges));
      }
    }
    return m;
  };
  const pa = procs(a);
  const pb = procs(b);
  const out = new Map<number, DiffRange[]>();
  for (const pid of new Set([...pa.keys(), ...pb.keys()])) {
    const d = diffRanges(pa.get(pid) ?? [], pb.get(pid) ?? []);
    if (d.length) out.set(pid, d);
  }
  return out;
}
