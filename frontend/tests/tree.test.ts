import { describe, expect, it } from 'vitest';
import { buildTree, matchesFilter, type TreeProcess } from '../src/tree';

type P = TreeProcess & { rss: number };
const p = (pid: number, ppid: number, rss: number, cmd = `cmd${pid}`, alive = true): P => ({ pid, ppid, rss, cmdline: cmd.split(' '), alive, seq: pid });
const rss = (x: P) => x.rss;

describe('process tree', () => {
  const procs = [p(10, 1, 100, 'make -j2'), p(11, 10, 5, 'cc a.c'), p(12, 10, 50, 'cc b.c'), p(13, 12, 1, 'as b.s'), p(20, 1, 500, 'python x.py'), p(14, 10, 900, 'cc dead.c', false)];

  it('nests children under parents, siblings live-first then by RSS', () => {
    const rows = buildTree(procs, { rss });
    expect(rows.map((r) => [r.proc.pid, r.depth])).toEqual([
      [20, 0],
      [10, 0],
      [12, 1],
      [13, 2],
      [11, 1],
      [14, 1],
    ]);
    expect(rows.find((r) => r.proc.pid === 10)!.descendants).toBe(4);
  });

  it('collapsing hides descendants', () => {
    const rows = buildTree(procs, { rss, collapsed: (pid) => pid === 12 });
    expect(rows.map((r) => r.proc.pid)).toEqual([20, 10, 12, 11, 14]);
  });

  it('filter keeps matches and their ancestors as context', () => {
    const rows = buildTree(procs, { rss, query: 'as b' });
    expect(rows.map((r) => [r.proc.pid, r.role])).toEqual([
      [10, 'context'],
      [12, 'context'],
      [13, 'match'],
    ]);
    expect(buildTree(procs, { rss, query: '20' }).map((r) => r.proc.pid)).toEqual([20]);
    expect(buildTree(procs, { rss, query: 'nothing' })).toEqual([]);
  });

  it('survives ppid cycles and self-parenting', () => {
    const rows = buildTree([p(1, 2, 0), p(2, 1, 0), p(3, 3, 0)], { rss });
    expect(rows.map((r) => r.proc.pid).sort()).toEqual([1, 2, 3]);
  });

  it('matchesFilter: pid exactly, or case-insensitive command substring', () => {
    expect(matchesFilter(p(123, 1, 0, 'Cargo build'), '123')).toBe(true);
    expect(matchesFilter(p(1234, 1, 0, 'x'), '123')).toBe(false);
    expect(matchesFilter(p(5, 1, 0, 'Cargo build'), 'cargo B')).toBe(true);
    expect(matchesFilter(p(5, 1, 0, 'x'), '  ')).toBe(true);
  });
});
