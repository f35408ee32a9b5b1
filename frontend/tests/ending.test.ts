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

describe('endings in mevid\'s words (/api/state "end") and host pids', () => {
  it('words every end value truthfully', async () => {
    const { formatEnd, processEndFromSession, describeEnd } = await import('../src/endings');
    expect(formatEnd({ how: 'exited', status: 3 })).toBe('exit 3');
    expect(formatEnd({ how: 'killed', status: 137, signal: 9 })).toBe('killed by SIGKILL (137)');
    expect(formatEnd({ how: 'killed', signal: 15 })).toBe('killed by SIGTERM (143)');
    expect(formatEnd({ how: 'detached' })).toBe('detached');
    expect(formatEnd({ how: 'launcher_lost' })).toBe('launcher lost');
    expect(formatEnd({ how: 'recording_cut', offset: 225300 })).toBe('recording cut at byte 225300');
    expect(formatEnd({ how: 'daemon_restarted' })).toBe('daemon restarted');
    expect(processEndFromSession({ how: 'recording_cut', offset: 9 })).toBe('recording cut');
    expect(processEndFromSession({ how: 'launcher_lost' })).toBe('launcher lost');
    expect(processEndFromSession({ how: 'exited', status: 0 })).toBe('untracked');
    expect(describeEnd({ how: 'recording_cut', offset: 5 }, null)).toMatch(/^recording cut short at byte 5: /);
    expect(describeEnd(null, null)).toMatch(/^launcher lost/);
  });

  it('pid text: the host pid beside the namespace pid only when they differ', async () => {
    const { pidText } = await import('../src/endings');
    expect(pidText(3, 41213)).toBe('3 (host 41213)');
    expect(pidText(41213, 41213)).toBe('41213');
    expect(pidText(7, null)).toBe('7');
  });

  it('asks mevid once per session state; host pids only for a session found in another pid namespace', async () => {
    const { DaemonFacts } = await import('../src/endings');
    const asked: string[] = [];
    const answers: Record<string, unknown> = {
      'api/sessions/1/timeline': { end: { how: 'recording_cut', offset: 4242 }, launcher_host_pid: 555 },
      'api/state?pid=101': { sessions: [{ id: 1, processes: [{ pid: 101, host_pid: 101 }] }] },
      'api/state?pid=4': { sessions: [{ id: 2, processes: [{ pid: 4, host_pid: 41214 }] }] },
      'api/sessions/2/timeline': { end: null, launcher_host_pid: 41210 },
      'api/state?pid=3': { sessions: [{ id: 9, processes: [{ pid: 3, host_pid: 999 }] }, { id: 2, processes: [{ pid: 3, host_pid: 41213 }] }] },
    };
    let changes = 0;
    const f = new DaemonFacts(
      async (url) => {
        asked.push(url);
        return { ok: url in answers, json: answers[url] ?? null };
      },
      () => changes++,
    );
    const sessions = [
      { id: 1, alive: false, launcherPid: 100, processes: new Map([[101, { pid: 101 }], [102, { pid: 102, map: { count: 5 } }]]) },
      { id: 2, alive: true, launcherPid: 1, processes: new Map([[4, { pid: 4, map: { count: 9 } }], [3, { pid: 3, map: { count: 1 } }]]) },
    ];
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
    for (let i = 0; i < 8; i++) {
      f.poll(sessions);
      await settle();
    }
    // Session 1: its smallest process says host pid = pid: the same namespace,
    // nothing more asked. Session 2: its probe differs: the others are asked.
    expect(asked).toEqual(['api/sessions/1/timeline', 'api/state?pid=101', 'api/sessions/2/timeline', 'api/state?pid=3', 'api/state?pid=4']);
    expect(f.end(1)).toEqual({ how: 'recording_cut', offset: 4242 });
    expect(f.hostPid(2, 3)).toBe(41213);
    expect(f.hostPid(2, 4)).toBe(41214);
    expect(f.hostPid(1, 102)).toBeNull();
    expect(f.launcherHostPid(1, 100)).toBeNull(); // not namespaced: the helper's pid is not shown
    expect(f.launcherHostPid(2, 3)).toBe(41213); // the launcher became process 3
    expect(f.launcherHostPid(2, 1)).toBe(41210); // not a process of the session: mevid's launcher_host_pid
    expect(changes).toBe(5);
    // The session ends: asked again, once.
    sessions[1]!.alive = false;
    answers['api/sessions/2/timeline'] = { end: { how: 'killed', status: 137, signal: 9 }, launcher_host_pid: 41210 };
    for (let i = 0; i < 3; i++) {
      f.poll(sessions);
      await settle();
    }
    expect(asked.length).toBe(6);
    expect(f.end(2)).toEqual({ how: 'killed', status: 137, signal: 9 });
  });
});
