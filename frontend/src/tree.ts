/*
 * tree — orders a session's processes as a fork/exec tree for display, and
 * applies the filter box. Pure functions, no DOM.
 */

export interface TreeProcess {
  pid: number;
  ppid: number;
  cmdline: readonly string[];
  alive: boolean;
  /** Order of first appearance (tie breaker). */
  seq: number;
}

export interface TreeRow<P extends TreeProcess> {
  proc: P;
  depth: number;
  /** Number of descendants (all generations). */
  descendants: number;
  /**
   * 'match': shown in full. 'context': an ancestor of a match kept so the tree
   * reads right; shown as a header only.
   */
  role: 'match' | 'context';
}

/** Siblings: live before exited, then by RSS (largest first), then by age. */
export function compareSiblings<P extends TreeProcess>(rss: (p: P) => number): (a: P, b: P) => number {
  return (a, b) => {
    if (a.alive !== b.alive) return a.alive ? -1 : 1;
    const d = rss(b) - rss(a);
    return d !== 0 ? d : a.seq - b.seq;
  };
}

export interface TreeOptions<P> {
  /** Filter box text. */
  query?: string;
  /** Whether a process's descendants are hidden. */
  collapsed?: (pid: number) => boolean;
  /** The process's RSS, for sorting siblings. */
  rss: (p: P) => number;
}

/**
 * True when the filter matches the process: an all-digit query matches the pid
 * exactly or any argument containing it; other queries match a
 * case-insensitive substring of the command line. An empty query matches all.
 */
export function matchesFilter(p: TreeProcess, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === '') return true;
  if (/^\d+$/.test(q) && String(p.pid) === q) return true;
  return p.cmdline.join(' ').toLowerCase().includes(q);
}

/**
 * Depth-first rows. Roots are processes whose parent is not in the list.
 * `opts.collapsed(pid)` hides a process's descendants. With a filter, only matches
 * and their ancestors (as 'context') are listed. Safe against ppid cycles.
 */
export function buildTree<P extends TreeProcess>(procs: readonly P[], opts: TreeOptions<P>): TreeRow<P>[] {
  const query = opts.query ?? '';
  const collapsed = opts.collapsed ?? (() => false);
  const cmp = compareSiblings(opts.rss);
  const byPid = new Map<number, P>();
  for (const p of procs) byPid.set(p.pid, p);
  const children = new Map<number, P[]>();
  const roots: P[] = [];
  for (const p of procs) {
    if (p.ppid !== p.pid && byPid.has(p.ppid) && !isAncestor(byPid, p, p.ppid)) {
      let list = children.get(p.ppid);
      if (!list) children.set(p.ppid, (list = []));
      list.push(p);
    } else {
      roots.push(p);
    }
  }
  for (const list of children.values()) list.sort(cmp);
  roots.sort(cmp);

  const descendants = new Map<number, number>();
  const count = (p: P): number => {
    let n = 0;
    for (const c of children.get(p.pid) ?? []) n += 1 + count(c);
    descendants.set(p.pid, n);
    return n;
  };
  roots.forEach(count);

  // Which processes are shown, and how.
  const role = new Map<number, 'match' | 'context'>();
  const mark = (p: P): boolean => {
    let keep = false;
    for (const c of children.get(p.pid) ?? []) if (mark(c)) keep = true;
    if (matchesFilter(p, query)) role.set(p.pid, 'match');
    else if (keep) role.set(p.pid, 'context');
    return role.has(p.pid);
  };
  roots.forEach(mark);

  const rows: TreeRow<P>[] = [];
  const walk = (p: P, depth: number): void => {
    const r = role.get(p.pid);
    if (!r) return;
    rows.push({ proc: p, depth, descendants: descendants.get(p.pid) ?? 0, role: r });
    if (collapsed(p.pid)) return;
    for (const c of children.get(p.pid) ?? []) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return rows;
}

/** True when `pid` is p itself or below p through parent links (a cycle check). */
function isAncestor<P extends TreeProcess>(byPid: Map<number, P>, p: P, pid: number): boolean {
  // Walk up from pid; if we reach p, linking p under pid would close a cycle.
  const seen = new Set<number>();
  let cur = byPid.get(pid);
  while (cur && !seen.has(cur.pid)) {
    if (cur.pid === p.pid) return true;
    seen.add(cur.pid);
    cur = byPid.get(cur.ppid);
  }
  return false;
}
