import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Store, sessionRss, vmaKind, vmaName, vmaValue } from '../src/store';
import { decodeBatch, type MeviEvent, type SnapshotMessage } from '../src/protocol';
import { RESIDENT, NOT_RESIDENT, SWAPPED } from '../src/memmap';
import { sharedWireDir } from './shared';

const P = 4096;
const start = (pid: number, argv: string[] = ['prog'], resume = false): MeviEvent => ({
  type: 'session_start',
  pid,
  ts: 0,
  version: 3,
  mode: 0,
  resume,
  started_at: 1_700_000_000_000_000_000n,
  argv,
  sample_ms: 0,
});

function quiet<T>(f: () => T): T {
  const spy = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    return f();
  } finally {
    spy.mockRestore();
  }
}

describe('store: deltas', () => {
  it('creates a session from session_start and applies map/state/unmap/remap in order', () => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['prog'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 16 * P, state: NOT_RESIDENT },
      { type: 'state', pid: 101, ts: 3, start: 0, end: 4 * P, state: RESIDENT },
      { type: 'state', pid: 101, ts: 3, start: 32 * P, end: 40 * P, state: RESIDENT }, // unmapped: no effect
      { type: 'unmap', pid: 101, ts: 4, start: 12 * P, end: 16 * P },
      { type: 'remap', pid: 101, ts: 5, from_start: 0, from_end: 12 * P, to_start: 100 * P, to_end: 104 * P },
    ]);
    const p = s.sessions.get(1)!.processes.get(101)!;
    expect(p.map.toArray()).toEqual([[100 * P, 104 * P, RESIDENT]]);
    expect(p.map.rss).toBe(4 * P);
    expect(s.totals()).toEqual({ rss: 4 * P, vsz: 4 * P, processes: 1 });
    expect(s.errors).toBe(0);
  });

  it('fork (flags & 1) copies the parent map; plain start is empty; exec clears', () => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['a'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 4 * P, state: RESIDENT },
      { type: 'proc_start', pid: 102, ts: 3, ppid: 101, flags: 1, cmdline: ['a'] },
      { type: 'proc_start', pid: 103, ts: 3, ppid: 101, flags: 0, cmdline: ['b'] },
      { type: 'map', pid: 102, ts: 4, start: 8 * P, end: 9 * P, state: RESIDENT },
    ]);
    const procs = s.sessions.get(1)!.processes;
    expect(procs.get(102)!.map.toArray()).toEqual([
      [0, 4 * P, RESIDENT],
      [8 * P, 9 * P, RESIDENT],
    ]);
    expect(procs.get(101)!.map.count).toBe(1); // the child's change did not leak into the parent
    expect(procs.get(103)!.map.count).toBe(0);
    s.applyBatch(1, [{ type: 'proc_exec', pid: 102, ts: 5, cmdline: ['/bin/sh', '-c', 'x'] }]);
    expect(procs.get(102)!.map.count).toBe(0);
    expect(procs.get(102)!.cmdline).toEqual(['/bin/sh', '-c', 'x']);
  });

  it('proc_exit keeps the process with its final sizes; session RSS counts live processes only', () => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['a'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 4 * P, state: RESIDENT },
      { type: 'proc_exit', pid: 101, ts: 3, status: 137 },
      { type: 'session_end', pid: 100, ts: 4, status: 137 },
    ]);
    const sess = s.sessions.get(1)!;
    const p = sess.processes.get(101)!;
    expect(p.alive).toBe(false);
    expect(p.exitStatus).toBe(137);
    expect(p.map.rss).toBe(4 * P);
    expect(sessionRss(sess)).toBe(0);
    expect(sess.alive).toBe(false);
    expect(sess.exitStatus).toBe(137);
    expect(s.totals().processes).toBe(0);
  });

  it('session_start with resume clears the session and keeps a returning process\'s history', () => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['a'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 4 * P, state: RESIDENT },
      { type: 'proc_start', pid: 102, ts: 1, ppid: 100, flags: 0, cmdline: ['gone'] },
    ]);
    const hist = s.sessions.get(1)!.processes.get(101)!.history;
    s.applyBatch(1, [
      { ...start(100), ts: 10, resume: true } as MeviEvent,
      { type: 'proc_start', pid: 101, ts: 10, ppid: 100, flags: 0, cmdline: ['a'] },
      { type: 'map', pid: 101, ts: 10, start: 0, end: 2 * P, state: RESIDENT },
    ]);
    const procs = s.sessions.get(1)!.processes;
    expect([...procs.keys()]).toEqual([101]);
    expect(procs.get(101)!.map.rss).toBe(2 * P);
    expect(procs.get(101)!.history).toBe(hist);
    expect(hist.rss).toEqual([4 * P, 2 * P]);
  });

  it('counts, and survives, events it cannot apply', () => {
    const s = new Store();
    quiet(() =>
      s.applyBatch(3, [
        { type: 'map', pid: 5, ts: 1, start: 0, end: P, state: RESIDENT }, // no session_start, unknown pid
        { type: 'remap', pid: 5, ts: 2, from_start: P, from_end: 0, to_start: 0, to_end: P }, // inverted
        { type: 'map', pid: 5, ts: 3, start: P, end: 2 * P, state: RESIDENT },
      ]),
    );
    expect(s.errors).toBe(3);
    expect(s.sessions.get(3)!.processes.get(5)!.map.rss).toBe(2 * P);
  });

  it('records RSS history per process and per session, one point per batch', () => {
    const s = new Store();
    s.applyBatch(1, [start(100), { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: [] }]);
    s.applyBatch(1, [{ type: 'map', pid: 101, ts: 1000, start: 0, end: 8 * P, state: RESIDENT }]);
    s.applyBatch(1, [{ type: 'state', pid: 101, ts: 2000, start: 0, end: 2 * P, state: NOT_RESIDENT }]);
    const p = s.sessions.get(1)!.processes.get(101)!;
    expect(p.history.ts).toEqual([1, 1000, 2000]);
    expect(p.history.rss).toEqual([0, 8 * P, 6 * P]);
    expect(s.sessions.get(1)!.history.rss).toEqual([0, 8 * P, 6 * P]);
  });
});

describe('store: snapshots', () => {
  const snap = (sessions: SnapshotMessage['sessions']): SnapshotMessage => ({ kind: 'snapshot', version: 3, now: 5n, sessions });

  it('replaces everything it knew', () => {
    const s = new Store();
    s.applyBatch(9, [start(1), { type: 'proc_start', pid: 2, ts: 0, ppid: 1, flags: 0, cmdline: [] }]);
    s.applySnapshot(
      snap([
        {
          id: 1,
          argv: ['x'],
          launcher_pid: 50,
          alive: false,
          exit_status: 3,
          mode: 1,
          started_at: 7n,
          processes: [
            {
              pid: 51,
              ppid: 50,
              cmdline: ['x'],
              alive: false,
              exit_status: 3,
              ranges: [0, P, 1, P, 3 * P, 0],
              rss_history: [0, 0, 99, P],
              vmas: [0, P, 1, '[heap]', P, 3 * P, 4, '/usr/lib/libfoo.so'],
              origins: [P, 3 * P, 9],
              touches: [0, P, 52],
              threads: [51, 'x', 52, 'worker-1'],
              written: [0, P, 1200],
            },
          ],
          rss_history: [0, 0, 99, P],
          sample_ms: 50,
          stacks: [[9, [{ pc: 4096, func: 'alloc+0x1', module: 'prog', source: 'p.c:3' }]]],
        },
      ]),
    );
    expect([...s.sessions.keys()]).toEqual([1]);
    const sess = s.sessions.get(1)!;
    expect(sess.exitStatus).toBe(3);
    const p = sess.processes.get(51)!;
    expect(p.map.toArray()).toEqual([
      [0, P, 1],
      [P, 3 * P, 0],
    ]);
    expect(p.history.rss).toEqual([0, P]);
    expect(p.lastTs).toBe(99);
    expect(s.synced).toBe(true);
    // Version 2 fields.
    expect(sess.sampleMs).toBe(50);
    expect(sess.mode).toBe(1);
    expect(sess.stacks.get(9)![0]!.func).toBe('alloc+0x1');
    expect(p.vmas.toArray().map(([a, b, v]) => [a, b, vmaKind(v), vmaName(v)])).toEqual([
      [0, P, 1, '[heap]'],
      [P, 3 * P, 4, '/usr/lib/libfoo.so'],
    ]);
    expect(p.origins.toArray()).toEqual([[P, 3 * P, 9]]);
    expect(p.touches.toArray()).toEqual([[0, P, 52]]);
    expect([...p.threads]).toEqual([
      [51, 'x'],
      [52, 'worker-1'],
    ]);
  });

  it('a snapshot of another protocol version is not interpreted; deltas are ignored', () => {
    const s = new Store();
    quiet(() => s.applySnapshot({ kind: 'snapshot', version: 4, now: 0n, sessions: [] }));
    expect(s.incompatible).toBe(4);
    expect(s.lastError).toMatch(/protocol version 4.*reload/);
    s.applyDelta({ kind: 'delta', now: 1n, batches: [{ sessionId: 1, events: [start(1)] }] });
    expect(s.sessions.size).toBe(0);
    s.applySnapshot(snap([]));
    expect(s.incompatible).toBeNull();
  });
});

describe('store: version 2 annotations (PROTOCOL.md section 3)', () => {
  const ANON = 0;
  const HEAP = 1;
  const FILE = 4;
  const frames = [{ pc: 0x1000, func: 'alloc_big_a+0x1c', module: 'prog', source: 'prog.c:31' }];
  const setup = (): Store => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['prog'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 16 * P, state: NOT_RESIDENT },
      { type: 'vma', pid: 101, ts: 2, start: 0, end: 16 * P, kind: HEAP, name: '[heap]' },
      { type: 'stack', pid: 101, ts: 2, stack_id: 5, frames },
      { type: 'origin', pid: 101, ts: 2, start: 0, end: 16 * P, stack_id: 5 },
      { type: 'state', pid: 101, ts: 3, start: 0, end: 4 * P, state: RESIDENT },
      { type: 'thread', pid: 101, ts: 3, tid: 102, name: 'worker-1' },
      { type: 'touch', pid: 101, ts: 3, start: 0, end: 4 * P, tid: 102 },
    ]);
    return s;
  };
  const proc = (s: Store, pid = 101) => s.sessions.get(1)!.processes.get(pid)!;

  it('sets the three maps, the thread table and the stack table; never changes pages', () => {
    const s = setup();
    const p = proc(s);
    expect(s.errors).toBe(0);
    expect(p.map.rss).toBe(4 * P);
    expect(p.vmas.toArray()).toEqual([[0, 16 * P, vmaValue(HEAP, '[heap]')]]);
    expect(p.origins.toArray()).toEqual([[0, 16 * P, 5]]);
    expect(p.touches.toArray()).toEqual([[0, 4 * P, 102]]);
    expect(p.threads.get(102)).toBe('worker-1');
    expect(s.sessions.get(1)!.stacks.get(5)).toEqual(frames);
    // A later stack with a known id replaces it.
    s.applyBatch(1, [{ type: 'stack', pid: 101, ts: 4, stack_id: 5, frames: [] }]);
    expect(s.sessions.get(1)!.stacks.get(5)).toEqual([]);
    // A vma event sets, replacing what was there; adjacent equal values merge.
    s.applyBatch(1, [
      { type: 'vma', pid: 101, ts: 5, start: 8 * P, end: 16 * P, kind: FILE, name: '/lib/x.so' },
      { type: 'vma', pid: 101, ts: 5, start: 0, end: 8 * P, kind: FILE, name: '/lib/x.so' },
    ]);
    expect(p.vmas.toArray()).toEqual([[0, 16 * P, vmaValue(FILE, '/lib/x.so')]]);
  });

  it('map leaves annotations alone; unmap removes them from all three maps', () => {
    const s = setup();
    s.applyBatch(1, [
      { type: 'map', pid: 101, ts: 5, start: 0, end: 16 * P, state: NOT_RESIDENT },
      { type: 'unmap', pid: 101, ts: 6, start: 2 * P, end: 12 * P },
    ]);
    const p = proc(s);
    expect(p.map.toArray()).toEqual([
      [0, 2 * P, NOT_RESIDENT],
      [12 * P, 16 * P, NOT_RESIDENT],
    ]);
    expect(p.vmas.toArray().map(([a, b]) => [a, b])).toEqual([
      [0, 2 * P],
      [12 * P, 16 * P],
    ]);
    expect(p.origins.toArray()).toEqual([
      [0, 2 * P, 5],
      [12 * P, 16 * P, 5],
    ]);
    expect(p.touches.toArray()).toEqual([[0, 2 * P, 102]]);
  });

  it('remap moves annotations like pages: a grown tail has none, a shrunk tail is dropped', () => {
    const s = setup();
    s.applyBatch(1, [{ type: 'remap', pid: 101, ts: 5, from_start: 0, from_end: 16 * P, to_start: 100 * P, to_end: 132 * P }]);
    const p = proc(s);
    expect(p.map.toArray()).toEqual([
      [100 * P, 104 * P, RESIDENT],
      [104 * P, 132 * P, NOT_RESIDENT],
    ]);
    expect(p.origins.toArray()).toEqual([[100 * P, 116 * P, 5]]);
    expect(p.vmas.toArray().map(([a, b]) => [a, b])).toEqual([[100 * P, 116 * P]]);
    expect(p.touches.toArray()).toEqual([[100 * P, 104 * P, 102]]);
    s.applyBatch(1, [{ type: 'remap', pid: 101, ts: 6, from_start: 100 * P, from_end: 132 * P, to_start: 100 * P, to_end: 102 * P }]);
    expect(p.origins.toArray()).toEqual([[100 * P, 102 * P, 5]]);
    expect(p.touches.toArray()).toEqual([[100 * P, 102 * P, 102]]);
  });

  it('fork copies the maps (not shared), a plain start has none, exec clears them', () => {
    const s = setup();
    s.applyBatch(1, [
      { type: 'proc_start', pid: 103, ts: 5, ppid: 101, flags: 1, cmdline: ['prog'] },
      { type: 'proc_start', pid: 104, ts: 5, ppid: 101, flags: 0, cmdline: ['other'] },
      { type: 'origin', pid: 103, ts: 6, start: 0, end: P, stack_id: 6 },
    ]);
    const child = proc(s, 103);
    expect(child.vmas.toArray()).toEqual(proc(s).vmas.toArray());
    expect(child.touches.toArray()).toEqual([[0, 4 * P, 102]]);
    expect(child.origins.toArray()).toEqual([
      [0, P, 6],
      [P, 16 * P, 5],
    ]);
    expect(proc(s).origins.toArray()).toEqual([[0, 16 * P, 5]]); // the parent is untouched
    expect(proc(s, 104).vmas.count + proc(s, 104).origins.count + proc(s, 104).touches.count).toBe(0);
    s.applyBatch(1, [{ type: 'proc_exec', pid: 103, ts: 7, cmdline: ['/bin/sh'] }]);
    expect(child.vmas.count + child.origins.count + child.touches.count).toBe(0);
  });

  it('resume clears the processes with their annotations; sampling changes sample_ms', () => {
    const s = setup();
    s.applyBatch(1, [
      { ...start(100), ts: 10, resume: true, mode: 1, sample_ms: 50 } as MeviEvent,
      { type: 'proc_start', pid: 101, ts: 10, ppid: 100, flags: 0, cmdline: ['prog'] },
    ]);
    const sess = s.sessions.get(1)!;
    expect(sess.sampleMs).toBe(50);
    expect(proc(s).vmas.count + proc(s).origins.count + proc(s).touches.count).toBe(0);
    expect(proc(s).threads.size).toBe(0);
    s.applyBatch(1, [{ type: 'sampling', pid: 100, ts: 11, sample_ms: 200 }]);
    expect(sess.sampleMs).toBe(200);
    expect(s.errors).toBe(0);
  });

  it('keeps annotations of unmapped addresses (they mean nothing until mapped)', () => {
    const s = setup();
    s.applyBatch(1, [{ type: 'origin', pid: 101, ts: 5, start: 64 * P, end: 65 * P, stack_id: 7 }]);
    expect(proc(s).origins.get(64 * P)).toBe(7);
    expect(proc(s).map.lookup(64 * P)).toBeNull();
  });

  it('interns vma names: the value carries the kind in its low bits', () => {
    const v = vmaValue(3, '4321');
    expect(vmaKind(v)).toBe(3);
    expect(vmaName(v)).toBe('4321');
    expect(vmaValue(3, '4321')).toBe(v);
    expect(vmaValue(ANON, '4321')).not.toBe(v);
  });
});

describe.skipIf(!existsSync(join(sharedWireDir, 'events.msgpack')))('store: the golden event batch', () => {
  it('applies the C encoder\'s batch without errors and ends in the expected state', () => {
    const events = decodeBatch(readFileSync(join(sharedWireDir, 'events.msgpack')));
    const s = new Store();
    s.applyBatch(1, events);
    const sess = s.sessions.get(1)!;
    // The batch ends with a resume (which clears the session), a snapshot of one
    // annotated process in sampled mode, and a session_end.
    expect(s.errors).toBe(0);
    expect(sess.alive).toBe(false);
    expect(sess.exitStatus).toBe(0);
    expect(sess.mode).toBe(1);
    expect(sess.sampleMs).toBe(200);
    expect([...sess.processes.keys()]).toEqual([4243]);
    const p = sess.processes.get(4243)!;
    expect(p.map.toArray()).toEqual([[93824992256000, 93824992391168, SWAPPED]]);
    expect(p.map.rss).toBe(0);
    expect(p.map.swap).toBe(93824992391168 - 93824992256000);
    expect(p.vmas.toArray().map(([a, b, v]) => [a, b, vmaKind(v), vmaName(v)])).toEqual([
      [93824992256000, 93824992391168, 1, ''],
      [140737320583168, 140737328971776, 3, '4245'],
      [140737350991872, 140737351155712, 4, '/usr/lib/x86_64-linux-gnu/libc.so.6'],
      [140737353879552, 140737353887744, 6, '[vdso]'],
    ]);
    expect(p.origins.toArray()).toEqual([[140737320583168, 140737328971776, 7]]);
    expect(p.touches.toArray()).toEqual([[140737320583168, 140737320587264, 4245]]);
    expect(p.threads.get(4245)).toBe('worker-1');
    expect(sess.stacks.get(7)![0]).toEqual({ pc: 93824992235913, func: 'alloc_big_a+0x1c', module: 'prog', source: 'prog.c:31' });
    expect(sess.stacks.get(4294967295)).toEqual([]);
  });

  it('applies it up to the resume and matches the expected maps', () => {
    const events = decodeBatch(readFileSync(join(sharedWireDir, 'events.msgpack')));
    const cut = events.findIndex((e) => e.type === 'session_start' && e.resume);
    const s = new Store();
    s.applyBatch(1, events.slice(0, cut));
    expect(s.errors).toBe(0);
    const procs = s.sessions.get(1)!.processes;
    const p4243 = procs.get(4243)!;
    // map [A, A+132 KiB) not resident, first 8 KiB paged in; a 1 MiB untracked map moved and
    // grown to 2 MiB (tail not resident), then its first 1 MiB unmapped.
    expect(p4243.map.toArray()).toEqual([
      [93824992256000, 93824992264192, RESIDENT],
      [93824992264192, 93824992391168, NOT_RESIDENT],
      [140736952532992, 140736953581568, NOT_RESIDENT],
    ]);
    expect(p4243.alive).toBe(false);
    expect(p4243.exitStatus).toBe(137);
    const p4244 = procs.get(4244)!;
    expect(p4244.cmdline[0]).toBe('/bin/sh');
    expect(p4244.map.toArray()).toEqual([
      [0, 4096, RESIDENT],
      [9007199254732800, 9007199254736896, NOT_RESIDENT],
    ]);
  });
});
