/*
 * store — the tab's copy of mevid's state: sessions, their processes and
 * each process's memory map, kept up to date from /stream messages.
 *
 * A snapshot replaces everything. A delta applies each session's batch in
 * order with the semantics of proto/PROTOCOL.md. The store never throws on
 * bad input: an event that cannot be applied is counted and logged, and the
 * rest of the batch still applies (the daemon validated it; a mismatch here
 * is a bug worth seeing, not a reason to freeze the view).
 *
 * Views ask `generation` whether anything changed and `takeDirty()` which
 * processes did.
 *
 * Protocol version 2 annotations (PROTOCOL.md section 3) live beside each
 * process's map: the vma map (kind and name, interned into one uint32, see
 * vmaValue), the origin map (stack id), the touch map (tid), all TagMaps
 * that follow the memory map (unmap removes, remap moves, exec and resume
 * clear, fork copies, map leaves them alone), and a thread table. Each
 * session has its stack table and its current sampling interval.
 */
import { MemMap } from './memmap';
import { RssHistory } from './history';
import { TagMap } from './tagmap';
import {
  KIND_COUNT,
  PROC_INHERIT_MAP,
  PROTOCOL_VERSION,
  type DeltaMessage,
  type Frame,
  type MeviEvent,
  type SessionSnapshot,
  type SnapshotMessage,
} from './protocol';

/**
 * Names of vma values: a vma map value is nameId * 8 + kind, so renderers
 * read the kind with `v & 7` and never touch strings. Names are interned
 * once per page load (a program has few distinct mapping names).
 */
const vmaNameIds = new Map<string, number>();
const vmaNameList: string[] = [];

/** The vma map value of (kind, name). */
export function vmaValue(kind: number, name: string): number {
  let id = vmaNameIds.get(name);
  if (id === undefined) {
    id = vmaNameList.length;
    vmaNameList.push(name);
    vmaNameIds.set(name, id);
  }
  return id * 8 + kind;
}

/** The kind (0..6) of a vma map value. */
export function vmaKind(v: number): number {
  return v & 7;
}

/** The name of a vma map value. */
export function vmaName(v: number): string {
  return vmaNameList[Math.floor(v / 8)] ?? '';
}

export interface ProcessState {
  readonly sessionId: number;
  readonly pid: number;
  ppid: number;
  cmdline: string[];
  alive: boolean;
  exitStatus: number | null;
  map: MemMap;
  /** Kind and name per range (value: vmaValue(kind, name)). */
  vmas: TagMap;
  /** The call stack (id) that mapped each range. */
  origins: TagMap;
  /** The thread (tid) that first touched each range (exact mode). */
  touches: TagMap;
  /** Thread names by tid. */
  threads: Map<number, string>;
  /** Heat (--heat): when each range was last seen written, ms since the session began (heat.ts). */
  written: TagMap;
  history: RssHistory;
  /** Timestamp of the last event about this process (ns since session start). */
  lastTs: number;
  /** Order of first appearance, for stable sorting. */
  readonly seq: number;
}

export interface SessionState {
  readonly id: number;
  argv: string[];
  launcherPid: number;
  alive: boolean;
  exitStatus: number | null;
  mode: number;
  /** Sampling interval in ms (sampled mode; 0 in exact mode), as last announced. */
  sampleMs: number;
  /** The launcher's engine ("ptrace", "ebpf"; "" until announced) and its reconcile corrections. */
  engine: string;
  corrections: number;
  /** Call stacks by id, shared by the session's processes. */
  stacks: Map<number, Frame[]>;
  /** CLOCK_REALTIME ns at session start. */
  startedAt: bigint;
  /** Protocol version announced by the launcher (0 when unknown). */
  version: number;
  processes: Map<number, ProcessState>;
  history: RssHistory;
  lastTs: number;
}

/** Key of a process across sessions: "<sessionId>:<pid>". */
export function processKey(sessionId: number, pid: number): string {
  return `${sessionId}:${pid}`;
}

export interface Totals {
  rss: number;
  vsz: number;
  processes: number;
}

export class Store {
  sessions = new Map<number, SessionState>();
  /** Bumped after every applied message. */
  generation = 0;
  /** Events that could not be applied since the page loaded. */
  errors = 0;
  lastError: string | null = null;
  /** Server clock (CLOCK_REALTIME ns) of the last message. */
  serverNow = 0n;
  /** Whether a snapshot was received since the last connection. */
  synced = false;
  /** The protocol version of mevid when it is not this page's (the page must be reloaded). */
  incompatible: number | null = null;

  private dirty = new Set<string>();
  private structureDirty = true;
  private seq = 0;

  /** Process keys changed since the last call. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  /** True once after processes or sessions were added, removed or re-parented. */
  takeStructureChanged(): boolean {
    const s = this.structureDirty;
    this.structureDirty = false;
    return s;
  }

  /** Forgets everything (the connection dropped and a snapshot will follow). */
  reset(): void {
    this.sessions.clear();
    this.synced = false;
    this.structureDirty = true;
    this.generation++;
  }

  applySnapshot(msg: SnapshotMessage): void {
    this.sessions.clear();
    this.incompatible = msg.version === PROTOCOL_VERSION ? null : msg.version;
    if (this.incompatible !== null) this.noteError(`mevid speaks protocol version ${msg.version}, this page version ${PROTOCOL_VERSION}: reload the page`);
    for (const s of msg.sessions) {
      this.sessions.set(s.id, this.buildSession(s, msg.version));
    }
    this.serverNow = msg.now;
    this.synced = true;
    this.structureDirty = true;
    for (const s of this.sessions.values()) for (const p of s.processes.values()) this.dirty.add(processKey(s.id, p.pid));
    this.generation++;
  }

  /** A session (with its processes) from its snapshot form; errors are noted, not thrown. */
  buildSession(s: SessionSnapshot, version: number): SessionState {
    const session = this.newSession(s.id);
    session.argv = s.argv;
    session.launcherPid = s.launcher_pid;
    session.alive = s.alive;
    session.exitStatus = s.exit_status;
    session.mode = s.mode;
    session.sampleMs = s.sample_ms;
    session.engine = s.engine ?? '';
    for (const [id, frames] of s.stacks) session.stacks.set(id, frames);
    session.startedAt = s.started_at;
    session.version = version;
    session.history = RssHistory.fromFlat(s.rss_history);
    for (const p of s.processes) {
      let map: MemMap;
      try {
        map = MemMap.fromFlat(p.ranges);
      } catch (err) {
        this.noteError(`snapshot: session ${s.id} pid ${p.pid}: ${(err as Error).message}`);
        map = new MemMap();
      }
      const proc = this.newProcess(session, p.pid, p.ppid, p.cmdline, map);
      proc.alive = p.alive;
      proc.exitStatus = p.exit_status;
      proc.history = RssHistory.fromFlat(p.rss_history);
      try {
        const vf: number[] = [];
        for (let i = 0; i + 3 < p.vmas.length; i += 4) vf.push(p.vmas[i] as number, p.vmas[i + 1] as number, vmaValue(p.vmas[i + 2] as number, p.vmas[i + 3] as string));
        proc.vmas = TagMap.fromFlat(vf);
        proc.origins = TagMap.fromFlat(p.origins);
        proc.touches = TagMap.fromFlat(p.touches);
        proc.written = TagMap.fromFlat(p.written);
      } catch (err) {
        this.noteError(`snapshot: session ${s.id} pid ${p.pid} annotations: ${(err as Error).message}`);
      }
      for (let i = 0; i + 1 < p.threads.length; i += 2) proc.threads.set(p.threads[i] as number, p.threads[i + 1] as string);
      const lastTs = p.rss_history.length >= 2 ? p.rss_history[p.rss_history.length - 2]! : 0;
      proc.lastTs = lastTs;
      session.lastTs = Math.max(session.lastTs, lastTs);
    }
    return session;
  }

  applyDelta(msg: DeltaMessage): void {
    if (this.incompatible !== null) return; // not this page's protocol: nothing is interpreted
    for (const { sessionId, events } of msg.batches) this.applyBatch(sessionId, events);
    this.serverNow = msg.now;
    this.generation++;
  }

  /** Applies one session's batch in order, then records RSS history points. */
  applyBatch(sessionId: number, events: readonly MeviEvent[]): void {
    let session = this.sessions.get(sessionId);
    const touched = new Set<ProcessState>();
    for (const ev of events) {
      if (!session) {
        session = this.newSession(sessionId);
        this.sessions.set(sessionId, session);
        this.structureDirty = true;
        if (ev.type !== 'session_start') this.noteError(`session ${sessionId}: events before session_start`);
      }
      session.lastTs = Math.max(session.lastTs, ev.ts);
      try {
        const proc = this.applyEvent(session, ev);
        if (proc) {
          proc.lastTs = Math.max(proc.lastTs, ev.ts);
          touched.add(proc);
          this.dirty.add(processKey(session.id, proc.pid));
        }
      } catch (err) {
        this.noteError(`session ${sessionId} ${ev.type} pid ${ev.pid}: ${(err as Error).message}`);
      }
    }
    if (!session) return;
    for (const p of touched) p.history.push(p.lastTs, p.map.rss);
    if (touched.size > 0 || events.length > 0) session.history.push(session.lastTs, sessionRss(session));
  }

  /** Totals over the processes that are still alive. */
  totals(): Totals {
    let rss = 0;
    let vsz = 0;
    let processes = 0;
    for (const s of this.sessions.values()) {
      for (const p of s.processes.values()) {
        if (!p.alive) continue;
        rss += p.map.rss;
        vsz += p.map.vsz;
        processes++;
      }
    }
    return { rss, vsz, processes };
  }

  // ---- internals -------------------------------------------------------

  private applyEvent(session: SessionState, ev: MeviEvent): ProcessState | null {
    switch (ev.type) {
      case 'session_start': {
        if (ev.resume) {
          // The launcher reconnected: a full snapshot of its processes follows.
          // Keep their charts: a process that comes back gets its history back.
          this.retired = new Map([...session.processes].map(([pid, p]) => [pid, p.history]));
          session.processes.clear();
          this.structureDirty = true;
        }
        session.argv = ev.argv;
        session.launcherPid = ev.pid;
        session.mode = ev.mode;
        session.sampleMs = ev.sample_ms;
        session.startedAt = ev.started_at;
        session.version = ev.version;
        session.alive = true;
        session.exitStatus = null;
        if (ev.version !== PROTOCOL_VERSION) this.noteError(`session ${session.id}: protocol version ${ev.version}`);
        return null;
      }
      case 'session_end':
        session.alive = false;
        session.exitStatus = ev.status;
        // As mevid: no process of an ended session is alive (a detach
        // leaves them running, untracked; they no longer count as live).
        for (const p of session.processes.values()) p.alive = false;
        this.structureDirty = true;
        return null;
      case 'proc_start': {
        const parent = session.processes.get(ev.ppid);
        const inherit = !!(ev.flags & PROC_INHERIT_MAP) && !!parent;
        const map = inherit ? parent.map.clone() : new MemMap();
        const proc = this.newProcess(session, ev.pid, ev.ppid, ev.cmdline, map);
        if (inherit) {
          // A fork: the child starts with copies of its parent's annotation maps.
          proc.vmas = parent.vmas.clone();
          proc.origins = parent.origins.clone();
          proc.touches = parent.touches.clone();
          proc.written = parent.written.clone();
        }
        const old = this.retired.get(ev.pid);
        if (old) {
          proc.history = old;
          this.retired.delete(ev.pid);
        }
        proc.map.version++; // a new process: views must redraw even if the map looks the same
        return proc;
      }
      case 'stack':
        session.stacks.set(ev.stack_id, ev.frames);
        this.stacksVersion++;
        return null;
      case 'sampling':
        session.sampleMs = ev.sample_ms;
        return null;
      case 'engine':
        session.engine = ev.name;
        session.corrections = ev.corrections;
        return null;
      default:
        break;
    }
    const proc = this.processFor(session, ev.pid);
    switch (ev.type) {
      case 'proc_exec':
        proc.map.clear();
        proc.vmas.clear();
        proc.origins.clear();
        proc.touches.clear();
        proc.written.clear();
        proc.cmdline = ev.cmdline;
        proc.alive = true;
        proc.exitStatus = null;
        break;
      case 'proc_exit':
        proc.alive = false;
        proc.exitStatus = ev.status;
        this.structureDirty = true;
        break;
      case 'map':
        proc.map.set(ev.start, ev.end, ev.state);
        break;
      case 'unmap':
        proc.map.remove(ev.start, ev.end);
        proc.vmas.remove(ev.start, ev.end);
        proc.origins.remove(ev.start, ev.end);
        proc.touches.remove(ev.start, ev.end);
        proc.written.remove(ev.start, ev.end);
        break;
      case 'remap':
        proc.map.remap(ev.from_start, ev.from_end, ev.to_start, ev.to_end);
        proc.vmas.remap(ev.from_start, ev.from_end, ev.to_start, ev.to_end);
        proc.origins.remap(ev.from_start, ev.from_end, ev.to_start, ev.to_end);
        proc.touches.remap(ev.from_start, ev.from_end, ev.to_start, ev.to_end);
        proc.written.remap(ev.from_start, ev.from_end, ev.to_start, ev.to_end);
        break;
      case 'state':
        proc.map.update(ev.start, ev.end, ev.state);
        break;
      case 'vma':
        if (ev.kind >= KIND_COUNT) throw new Error(`kind ${ev.kind}`);
        proc.vmas.set(ev.start, ev.end, vmaValue(ev.kind, ev.name));
        break;
      case 'origin':
        proc.origins.set(ev.start, ev.end, ev.stack_id);
        break;
      case 'touch':
        proc.touches.set(ev.start, ev.end, ev.tid);
        break;
      case 'written':
        proc.written.set(ev.start, ev.end, Math.floor(ev.t / 1e6));
        break;
      case 'thread':
        proc.threads.set(ev.tid, ev.name);
        this.stacksVersion++;
        break;
    }
    return proc;
  }

  /** Bumped when a stack or a thread name is (re)defined: tables derived from them refresh. */
  stacksVersion = 0;

  /** Histories of processes dropped by a resume, until their proc_start comes back. */
  private retired = new Map<number, RssHistory>();

  /** The process, created as a placeholder when an event names an unknown pid. */
  private processFor(session: SessionState, pid: number): ProcessState {
    const p = session.processes.get(pid);
    if (p) return p;
    this.noteError(`session ${session.id}: event for unknown pid ${pid}`);
    return this.newProcess(session, pid, 0, [], new MemMap());
  }

  private newSession(id: number): SessionState {
    return {
      id,
      argv: [],
      launcherPid: 0,
      alive: true,
      exitStatus: null,
      mode: 0,
      sampleMs: 0,
      engine: '',
      corrections: 0,
      stacks: new Map(),
      startedAt: 0n,
      version: 0,
      processes: new Map(),
      history: new RssHistory(),
      lastTs: 0,
    };
  }

  private newProcess(session: SessionState, pid: number, ppid: number, cmdline: string[], map: MemMap): ProcessState {
    const proc: ProcessState = {
      sessionId: session.id,
      pid,
      ppid,
      cmdline,
      alive: true,
      exitStatus: null,
      map,
      vmas: new TagMap(),
      origins: new TagMap(),
      touches: new TagMap(),
      threads: new Map(),
      written: new TagMap(),
      history: new RssHistory(),
      lastTs: session.lastTs,
      seq: this.seq++,
    };
    session.processes.set(pid, proc);
    this.structureDirty = true;
    this.dirty.add(processKey(session.id, pid));
    return proc;
  }

  private noteError(msg: string): void {
    this.errors++;
    this.lastError = msg;
    console.warn(`mevi: ${msg}`);
  }
}

/** RSS of a session: the sum over its live processes. */
export function sessionRss(s: SessionState): number {
  let rss = 0;
  for (const p of s.processes.values()) if (p.alive) rss += p.map.rss;
  return rss;
}

export function sessionVsz(s: SessionState): number {
  let vsz = 0;
  for (const p of s.processes.values()) if (p.alive) vsz += p.map.vsz;
  return vsz;
}
