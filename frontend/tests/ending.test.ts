// How sessions and processes end, as the page tells it (issue 12): the store
// mirrors mevid (no process of an ended session is alive or in the totals)
// and the words match /api/state's "end".
import { describe, expect, it } from 'vitest';
import { Store } from '../src/store';
import { formatExitStatus, formatProcessEnd, formatSecondsTicks, formatSessionEnd } from '../src/format';
import { formatMode } from '../src/annotate';
import type { MeviEvent } from '../src/protocol';
import { RESIDENT } from '../src/memmap';

const P = 4096;
const start = (pid: number): MeviEvent => ({
  type: 'session_start',
  pid,
  ts: 0,
  version: 3,
  mode: 1,
  resume: false,
  started_at: 1_700_000_000_000_000_000n,
  argv: ['prog'],
  sample_ms: 50,
});

describe('endings', () => {
  it('a detach (session_end -1) leaves no process alive and none in the totals', () => {
    const s = new Store();
    s.applyBatch(1, [
      start(100),
      { type: 'proc_start', pid: 101, ts: 1, ppid: 100, flags: 0, cmdline: ['prog'] },
      { type: 'map', pid: 101, ts: 2, start: 0, end: 16 * P, state: RESIDENT },
    ]);
    expect(s.totals()).toEqual({ rss: 16 * P, vsz: 16 * P, processes: 1 });
    s.applyBatch(1, [{ type: 'session_end', pid: 100, ts: 3, status: -1 }]);
    const sess = s.sessions.get(1)!;
    const p = sess.processes.get(101)!;
    expect(p.alive).toBe(false);
    expect(s.totals()).toEqual({ rss: 0, vsz: 0, processes: 0 });
    expect(formatSessionEnd(sess.alive, sess.exitStatus)).toBe('detached');
    expect(formatProcessEnd(p.alive, p.exitStatus, sess)).toBe('detached');
    expect(s.errors).toBe(0);
  });

  it('names every ending', () => {
    expect(formatExitStatus(-1)).toBe('detached');
    expect(formatSessionEnd(true, null)).toBe('running');
    expect(formatSessionEnd(false, null)).toBe('launcher lost');
    expect(formatSessionEnd(false, 0)).toBe('exit 0');
    expect(formatSessionEnd(false, 137)).toBe('killed by SIGKILL (137)');
    const lost = { alive: false, exitStatus: null };
    expect(formatProcessEnd(false, null, lost)).toBe('launcher lost');
    expect(formatProcessEnd(false, 3, lost)).toBe('exit 3');
    expect(formatProcessEnd(false, null, { alive: false, exitStatus: 0 })).toBe('untracked');
    expect(formatProcessEnd(false, null, { alive: true, exitStatus: null })).toBe('gone');
    expect(formatProcessEnd(true, null, lost)).toBe('');
  });

  it('the tracking mode reads as "tracking: sampled every 50 ms"', () => {
    expect(`tracking: ${formatMode(1, 50)}`).toBe('tracking: sampled every 50 ms');
    expect(`tracking: ${formatMode(0, 0)}`).toBe('tracking: exact');
  });

  it('ticks of a one-second axis are distinct', () => {
    const labels = formatSecondsTicks([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(new Set(labels).size).toBe(labels.length);
  });
});
