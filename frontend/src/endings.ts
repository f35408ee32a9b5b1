/*
 * endings — what mevid knows about a session that the /stream does not
 * carry (proto/PROTOCOL.md section 6 has no field for them yet), asked of its
 * HTTP API and kept here for the views:
 *
 *  - how a session ended, in mevid's own words (`end` of
 *    /api/sessions/S/timeline, the same object as in /api/state):
 *    "recording cut at byte N" rather than "launcher lost" for a recording
 *    whose writer died, "killed by SIGKILL (137)", "detached", ...;
 *  - the host pids of a session whose launcher runs in another pid namespace:
 *    each process's `host_pid`, from /api/state?pid=P, so that the page says
 *    "pid 3 (host 41213)" and the numbers match the user's `ps`. Whether a
 *    session is in another namespace is not said anywhere cheap
 *    (`launcher_host_pid` is the pid of mevi-run's tracing helper, which
 *    differs from the launcher pid in any namespace), so one process of each
 *    session, the one with the fewest ranges, is asked first: when its
 *    host_pid differs from its pid, the others are asked too.
 *
 * One request at a time, each asked once: a session's timeline when it is
 * first seen and again when it ends; the probe process once per session; the
 * other processes of a namespaced session once each. The views read facts
 * (below) as they draw.
 */
import { formatExitStatus, formatProcessEnd, formatSessionEnd } from './format';

/** The `end` object of /api/state and /api/sessions/S/timeline. */
export interface DaemonEnd {
  how: string;
  status?: number;
  signal?: number;
  /** recording_cut: the byte offset where the loaded recording stops. */
  offset?: number;
  /** A process that ended without an exit of its own: whether the kernel still runs it. */
  running?: boolean | null;
}

export interface SessionFacts {
  end: DaemonEnd | null;
  /** The launcher's pid in mevid's pid namespace, or null when not known. */
  launcherHostPid: number | null;
  /** Its processes are in another pid namespace: null until probed. */
  namespaced: boolean | null;
}

/** A session ending in words (the badge and chip say "ended · " before it). */
export function formatEnd(end: DaemonEnd): string {
  switch (end.how) {
    case 'exited':
      return `exit ${end.status ?? 0}`;
    case 'killed':
      return formatExitStatus(end.status ?? 128 + (end.signal ?? 0));
    case 'recording_cut':
      return end.offset !== undefined ? `recording cut at byte ${end.offset}` : 'recording cut';
    default:
      // detached, launcher_lost, untracked, replaced, and any later one
      // (daemon_restarted...) as mevid names it.
      return end.how.replace(/_/g, ' ');
  }
}

/** The tooltip of a session's ending. */
export function describeEnd(end: DaemonEnd | null, exitStatus: number | null): string {
  const how = end?.how ?? (exitStatus === null ? 'launcher_lost' : exitStatus === -1 ? 'detached' : 'exited');
  switch (how) {
    case 'detached':
      return 'detached: mevi-run let the program go; it runs on, untracked';
    case 'launcher_lost':
      return 'launcher lost: mevi-run went away without ending the session (killed, or its machine went away); its processes are no longer tracked';
    case 'recording_cut':
      return `recording cut short${end?.offset !== undefined ? ` at byte ${end.offset}` : ''}: its writer died; mevid loaded every complete batch before the cut, and what came after is lost`;
    case 'killed':
      return 'the program was killed by a signal';
    default:
      return 'the program ended';
  }
}

/**
 * How an ended process ended, when it has no exit status of its own: what
 * ended its session ("launcher lost", "recording cut", "detached",
 * "untracked" when the session ended normally while it was still tracked).
 */
export function processEndFromSession(end: DaemonEnd): string {
  switch (end.how) {
    case 'recording_cut':
      return 'recording cut';
    case 'exited':
    case 'killed':
      return 'untracked';
    default:
      return end.how.replace(/_/g, ' ');
  }
}

/** "3" or, when the host sees it as another pid, "3 (host 41213)". */
export function pidText(pid: number, hostPid: number | null | undefined): string {
  return hostPid && hostPid !== pid ? `${pid} (host ${hostPid})` : String(pid);
}

/** What the fetcher needs of a session (store.ts SessionState). */
interface SessionLike {
  id: number;
  alive: boolean;
  launcherPid: number;
  processes: Map<number, { pid: number; map?: { count: number } }>;
}

type GetJson = (url: string) => Promise<{ ok: boolean; json: unknown }>;

export class DaemonFacts {
  private readonly sessions = new Map<number, SessionFacts>();
  /** Per session, the state its facts were asked in ("live", "ended"). */
  private readonly asked = new Map<number, string>();
  /** `${session}:${pid}` to the host pid (null: asked, not known). */
  private readonly hostPids = new Map<string, number | null>();
  private busy = false;
  /** Requests made (for tests). */
  requests = 0;

  constructor(
    private readonly get: GetJson,
    private readonly changed: () => void,
  ) {}

  session(id: number): SessionFacts | undefined {
    return this.sessions.get(id);
  }

  /** How session id ended per mevid, or null (running, or not known yet). */
  end(id: number): DaemonEnd | null {
    return this.sessions.get(id)?.end ?? null;
  }

  hostPid(sessionId: number, pid: number): number | null {
    return this.hostPids.get(`${sessionId}:${pid}`) ?? null;
  }

  /**
   * The host pid of the launcher pid when the session is in another pid
   * namespace, else null. mevi-run becomes its program, so the launcher pid
   * is that process's pid and its host_pid is the one `ps` shows; mevid's
   * launcher_host_pid (the tracing helper's pid) only when that process is
   * not in the session (an attach).
   */
  launcherHostPid(sessionId: number, launcherPid: number): number | null {
    const f = this.sessions.get(sessionId);
    if (!f?.namespaced) return null;
    return this.hostPids.get(`${sessionId}:${launcherPid}`) ?? f.launcherHostPid;
  }

  /** Forgets sessions no longer listed. */
  prune(ids: Set<number>): void {
    for (const id of [...this.sessions.keys()]) if (!ids.has(id)) this.sessions.delete(id);
    for (const id of [...this.asked.keys()]) if (!ids.has(id)) this.asked.delete(id);
  }

  /**
   * Asks mevid the next thing it does not know about these sessions (one
   * request in flight at a time); changed() runs when an answer arrives.
   */
  poll(sessions: Iterable<SessionLike>): void {
    if (this.busy) return;
    for (const s of sessions) {
      const want = s.alive ? 'live' : 'ended';
      if (this.asked.get(s.id) !== want) {
        this.asked.set(s.id, want);
        this.run(`api/sessions/${s.id}/timeline`, (j) => this.takeTimeline(s.id, j));
        return;
      }
      const f = this.sessions.get(s.id);
      if (!f || f.namespaced === false) continue;
      if (f.namespaced === null) {
        // The probe: the process with the fewest ranges (the smallest answer).
        let probe: { pid: number; map?: { count: number } } | null = null;
        for (const p of s.processes.values()) if (!probe || (p.map?.count ?? 0) < (probe.map?.count ?? 0)) probe = p;
        if (!probe) continue;
        const pid = probe.pid;
        this.hostPids.set(`${s.id}:${pid}`, null);
        f.namespaced = false; // until the answer says otherwise (asked once)
        this.run(`api/state?pid=${pid}`, (j) => {
          this.takeState(s.id, j);
          const host = this.hostPids.get(`${s.id}:${pid}`);
          const cur = this.sessions.get(s.id);
          if (cur) cur.namespaced = !!host && host !== pid;
        });
        return;
      }
      for (const p of s.processes.values()) {
        const key = `${s.id}:${p.pid}`;
        if (this.hostPids.has(key)) continue;
        this.hostPids.set(key, null);
        this.run(`api/state?pid=${p.pid}`, (j) => this.takeState(s.id, j));
        return;
      }
    }
  }

  private run(url: string, take: (j: unknown) => void): void {
    this.busy = true;
    this.requests++;
    void this.get(url)
      .then((r) => {
        if (r.ok) take(r.json);
      })
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
        this.changed();
      });
  }

  private takeTimeline(id: number, j: unknown): void {
    const t = j as { end?: DaemonEnd | null; launcher_host_pid?: number | null };
    const namespaced = this.sessions.get(id)?.namespaced ?? null;
    this.sessions.set(id, { end: t.end ?? null, launcherHostPid: t.launcher_host_pid ?? null, namespaced });
  }

  private takeState(id: number, j: unknown): void {
    const st = j as { sessions?: { id: number; end?: DaemonEnd | null; launcher_host_pid?: number | null; processes?: { pid: number; host_pid?: number | null }[] }[] };
    for (const s of st.sessions ?? []) {
      if (s.id !== id) continue;
      for (const p of s.processes ?? []) this.hostPids.set(`${id}:${p.pid}`, p.host_pid ?? null);
    }
  }
}

/** The page's facts, fetched relative to the page (app.ts starts it). */
export const facts = new DaemonFacts(
  async (url) => {
    const r = await fetch(url);
    return { ok: r.ok, json: r.ok ? await r.json() : null };
  },
  () => {
    for (const f of listeners) f();
  },
);
const listeners: (() => void)[] = [];

/** The app redraws when facts arrive. */
export function onFacts(f: () => void): void {
  listeners.push(f);
}

/** A session's state in words: "running", or how it ended (mevid's word when known). */
export function sessionEndText(s: { id: number; alive: boolean; exitStatus: number | null }): string {
  const end = s.alive ? null : facts.end(s.id);
  return end ? formatEnd(end) : formatSessionEnd(s.alive, s.exitStatus);
}

/** An ended process's state in words ('' while alive). */
export function processEndText(p: { alive: boolean; exitStatus: number | null }, s: { id: number; alive: boolean; exitStatus: number | null } | null): string {
  const end = !p.alive && p.exitStatus === null && s && !s.alive ? facts.end(s.id) : null;
  return end ? processEndFromSession(end) : formatProcessEnd(p.alive, p.exitStatus, s ?? { alive: true, exitStatus: null });
}

/** A process's pid as the page shows it ("3 (host 41213)" in a pid namespace). */
export function procPidText(sessionId: number, pid: number): string {
  return pidText(pid, facts.hostPid(sessionId, pid));
}
