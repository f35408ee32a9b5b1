/*
 * protocol — decoding (and, for tests and tools, encoding) of the mevi wire
 * format described in proto/PROTOCOL.md.
 *
 * Every message from mevid is untrusted input: decodeServerMessage() validates
 * shape, types and ranges and throws a ProtocolError naming the offending
 * element, so one bad frame is reported instead of corrupting the view.
 *
 * Numbers: msgpack integers encoded as (u)int64 arrive as bigint (the decoder
 * runs with useBigInt64) and are converted here. Addresses are page aligned
 * and below 2^56, so they are exact as JavaScript numbers. Wall-clock values
 * (started_at, now) stay bigint: they are nanoseconds since 1970 and do not
 * fit a double exactly.
 */
import { decode, encode } from '@msgpack/msgpack';
import { isState, type PageState } from './memmap';

export const PROTOCOL_VERSION = 3;
export const PAGE_SIZE = 4096;
export const ADDR_LIMIT = 2 ** 56;

export const EVENT_TYPES = [
  'session_start',
  'session_end',
  'proc_start',
  'proc_exec',
  'proc_exit',
  'map',
  'unmap',
  'remap',
  'state',
  'stack',
  'origin',
  'vma',
  'thread',
  'touch',
  'sampling',
  'engine',
  'written',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Tracking modes announced by session_start. */
export const MODE_NAMES = ['exact', 'sampled'] as const;

/** Memory kinds of the vma event, by value (proto/PROTOCOL.md section 2). */
export const KIND_NAMES = ['anon', 'heap', 'stack', 'thread_stack', 'file', 'shmem', 'special'] as const;
export type KindName = (typeof KIND_NAMES)[number];
export const KIND_COUNT = KIND_NAMES.length;

/** Most frames a stack event may carry. */
export const MAX_FRAMES = 256;

/** One frame of a call stack, innermost first. */
export interface Frame {
  /** Program counter (frame 0) or return address. */
  pc: number;
  /** "function+0xoff", empty when unknown. */
  func: string;
  /** The ELF object's file name, empty when unknown. */
  module: string;
  /** "file.c:42", or null without debug information. */
  source: string | null;
}

/** proc_start flag: the process starts with a copy of its parent's map (fork). */
export const PROC_INHERIT_MAP = 1;

interface EventBase {
  pid: number;
  /** Nanoseconds since the session began. */
  ts: number;
}

// Field names follow proto/PROTOCOL.md (and tests/vectors/wire/events.json) verbatim.
export type MeviEvent =
  | (EventBase & {
      type: 'session_start';
      version: number;
      mode: number;
      resume: boolean;
      started_at: bigint;
      argv: string[];
      /** Sampling interval in sampled mode, 0 in exact mode. */
      sample_ms: number;
    })
  | (EventBase & { type: 'session_end'; status: number })
  | (EventBase & { type: 'proc_start'; ppid: number; flags: number; cmdline: string[] })
  | (EventBase & { type: 'proc_exec'; cmdline: string[] })
  | (EventBase & { type: 'proc_exit'; status: number })
  | (EventBase & { type: 'map'; start: number; end: number; state: PageState })
  | (EventBase & { type: 'unmap'; start: number; end: number })
  | (EventBase & { type: 'remap'; from_start: number; from_end: number; to_start: number; to_end: number })
  | (EventBase & { type: 'state'; start: number; end: number; state: PageState })
  | (EventBase & { type: 'stack'; stack_id: number; frames: Frame[] })
  | (EventBase & { type: 'origin'; start: number; end: number; stack_id: number })
  | (EventBase & { type: 'vma'; start: number; end: number; kind: number; name: string })
  | (EventBase & { type: 'thread'; tid: number; name: string })
  | (EventBase & { type: 'touch'; start: number; end: number; tid: number })
  | (EventBase & { type: 'sampling'; sample_ms: number })
  /** Since version 3: how the launcher observes memory ("ptrace", "ebpf") and its counters. */
  | (EventBase & { type: 'engine'; name: string; corrections: number; drops: number })
  /** Version 3 (mevi-run --heat): the pages of [start, end) were last seen written at t (ns since the session began). */
  | (EventBase & { type: 'written'; start: number; end: number; t: number });

export interface ProcessSnapshot {
  pid: number;
  ppid: number;
  cmdline: string[];
  alive: boolean;
  exit_status: number | null;
  /** Flat [start0, end0, state0, ...], sorted and merged. */
  ranges: number[];
  /** Flat [ts0, rss0, ts1, rss1, ...], oldest first. */
  rss_history: number[];
  /** The vma map: flat [start0, end0, kind0, name0, ...]. */
  vmas: (number | string)[];
  /** The origin map: flat [start0, end0, stack_id0, ...]. */
  origins: number[];
  /** The touch map: flat [start0, end0, tid0, ...]. */
  touches: number[];
  /** The thread table: flat [tid0, name0, ...]. */
  threads: (number | string)[];
  /** Version 3: last-write times, flat [start0, end0, t_ms0, ...] (ms since the session began). */
  written: number[];
}

export interface SessionSnapshot {
  id: number;
  argv: string[];
  launcher_pid: number;
  alive: boolean;
  exit_status: number | null;
  mode: number;
  started_at: bigint;
  processes: ProcessSnapshot[];
  rss_history: number[];
  sample_ms: number;
  /** The session's stack table: [stack_id, frames] pairs. */
  stacks: [number, Frame[]][];
  /** Since version 3: the launcher's engine ("ptrace", "ebpf"; "" when unknown). */
  engine?: string;
}

export interface SnapshotMessage {
  kind: 'snapshot';
  version: number;
  now: bigint;
  sessions: SessionSnapshot[];
}

export interface DeltaMessage {
  kind: 'delta';
  now: bigint;
  batches: { sessionId: number; events: MeviEvent[] }[];
}

/** The answer to a websocket seek: one session's state at a past time (kind 2). */
export interface MomentMessage {
  kind: 'moment';
  version: number;
  now: bigint;
  sessionId: number;
  /** As requested, ns since the session began. */
  at: number;
  /** Time of the last event included. */
  ts: number;
  prevTs: number;
  nextTs: number;
  endTs: number;
  /** The state, or why there is none. */
  session: SessionSnapshot | string;
}

export type ServerMessage = SnapshotMessage | DeltaMessage | MomentMessage;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// ---- primitive validators ---------------------------------------------

function fail(path: string, what: string, v: unknown): never {
  let shown: string;
  try {
    shown = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v);
  } catch {
    shown = String(v);
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  throw new ProtocolError(`${path}: expected ${what}, got ${shown}`);
}

function arr(v: unknown, path: string, len?: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'an array', v);
  if (len !== undefined && v.length !== len) fail(path, `an array of ${len} elements`, `${v.length} elements`);
  return v;
}

/** Any non-negative integer (number or bigint), as a number. */
function uint(v: unknown, path: string): number {
  if (typeof v === 'bigint') {
    if (v < 0n) fail(path, 'an unsigned integer', v);
    return Number(v);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(path, 'an unsigned integer', v);
  return v;
}

function int32(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) fail(path, 'a 32-bit integer', v);
  return v;
}

function bigUint(v: unknown, path: string): bigint {
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  fail(path, 'an unsigned integer', v);
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'a boolean', v);
  return v;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function str(v: unknown, path: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return utf8.decode(v); // lenient: bin where str was meant
  fail(path, 'a string', v);
}

function strs(v: unknown, path: string): string[] {
  return arr(v, path).map((s, i) => str(s, `${path}[${i}]`));
}

function state(v: unknown, path: string): PageState {
  const n = uint(v, path);
  if (!isState(n)) fail(path, 'a page state (0..3)', v);
  return n;
}

function uint32(v: unknown, path: string): number {
  const n = uint(v, path);
  if (n > 0xffffffff) fail(path, 'a uint32', v);
  return n;
}

function tid(v: unknown, path: string): number {
  const n = uint(v, path);
  if (n < 1 || n > 2 ** 31 - 1) fail(path, 'a thread id (1..2^31-1)', v);
  return n;
}

function kind(v: unknown, path: string): number {
  const n = uint(v, path);
  if (n >= KIND_COUNT) fail(path, 'a memory kind (0..6)', v);
  return n;
}

function frames(v: unknown, path: string): Frame[] {
  const a = arr(v, path);
  if (a.length > MAX_FRAMES) fail(path, `at most ${MAX_FRAMES} frames`, `${a.length} frames`);
  return a.map((f, i) => {
    const p = `${path}[${i}]`;
    const x = arr(f, p, 4);
    return {
      pc: uint(x[0], `${p}.pc`),
      func: str(x[1], `${p}.func`),
      module: str(x[2], `${p}.module`),
      source: x[3] === null || x[3] === undefined ? null : str(x[3], `${p}.source`),
    };
  });
}

function addrRange(s: unknown, e: unknown, path: string): [number, number] {
  const start = uint(s, `${path}.start`);
  const end = uint(e, `${path}.end`);
  if (end <= start) fail(path, 'a non-empty range', [start, end]);
  if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0) fail(path, 'a page-aligned range', [start, end]);
  if (end > ADDR_LIMIT) fail(path, `a range below 2^56`, [start, end]);
  return [start, end];
}

function nullableStatus(v: unknown, path: string): number | null {
  return v === null || v === undefined ? null : int32(v, path);
}

// ---- events -------------------------------------------------------------

const ARITY: Record<EventType, number> = {
  session_start: 9,
  session_end: 4,
  proc_start: 6,
  proc_exec: 4,
  proc_exit: 4,
  map: 6,
  unmap: 5,
  remap: 7,
  state: 6,
  stack: 5,
  origin: 6,
  vma: 7,
  thread: 5,
  touch: 6,
  sampling: 4,
  engine: 6,
  written: 6,
};

/** Validates one wire event (an array) into a MeviEvent. */
export function parseEvent(raw: unknown, path = 'event'): MeviEvent {
  const a = arr(raw, path);
  if (a.length < 3) fail(path, 'an event of at least 3 elements', a);
  const code = uint(a[0], `${path}[0]`);
  const type = EVENT_TYPES[code];
  if (type === undefined) fail(`${path}[0]`, 'a known event type (0..15)', a[0]);
  if (a.length !== ARITY[type]) fail(path, `${ARITY[type]} elements for ${type}`, `${a.length} elements`);
  const pid = int32(a[1], `${path}.pid`);
  const ts = uint(a[2], `${path}.ts`);
  switch (type) {
    case 'session_start':
      return {
        type,
        pid,
        ts,
        version: uint(a[3], `${path}.version`),
        mode: uint(a[4], `${path}.mode`),
        resume: bool(a[5], `${path}.resume`),
        started_at: bigUint(a[6], `${path}.started_at`),
        argv: strs(a[7], `${path}.argv`),
        sample_ms: uint32(a[8], `${path}.sample_ms`),
      };
    case 'session_end':
      return { type, pid, ts, status: int32(a[3], `${path}.status`) };
    case 'proc_start':
      return {
        type,
        pid,
        ts,
        ppid: int32(a[3], `${path}.ppid`),
        flags: uint(a[4], `${path}.flags`),
        cmdline: strs(a[5], `${path}.cmdline`),
      };
    case 'proc_exec':
      return { type, pid, ts, cmdline: strs(a[3], `${path}.cmdline`) };
    case 'proc_exit':
      return { type, pid, ts, status: int32(a[3], `${path}.status`) };
    case 'map':
    case 'state': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end, state: state(a[5], `${path}.state`) };
    }
    case 'unmap': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end };
    }
    case 'remap': {
      const [from_start, from_end] = addrRange(a[3], a[4], `${path}.from`);
      const [to_start, to_end] = addrRange(a[5], a[6], `${path}.to`);
      return { type, pid, ts, from_start, from_end, to_start, to_end };
    }
    case 'stack':
      return { type, pid, ts, stack_id: uint32(a[3], `${path}.stack_id`), frames: frames(a[4], `${path}.frames`) };
    case 'origin': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end, stack_id: uint32(a[5], `${path}.stack_id`) };
    }
    case 'vma': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end, kind: kind(a[5], `${path}.kind`), name: str(a[6], `${path}.name`) };
    }
    case 'thread':
      return { type, pid, ts, tid: tid(a[3], `${path}.tid`), name: str(a[4], `${path}.name`) };
    case 'touch': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end, tid: tid(a[5], `${path}.tid`) };
    }
    case 'sampling':
      return { type, pid, ts, sample_ms: uint32(a[3], `${path}.sample_ms`) };
    case 'engine':
      return {
        type,
        pid,
        ts,
        name: str(a[3], `${path}.name`),
        corrections: uint(a[4], `${path}.corrections`),
        drops: uint(a[5], `${path}.drops`),
      };
    case 'written': {
      const [start, end] = addrRange(a[3], a[4], path);
      return { type, pid, ts, start, end, t: uint(a[5], `${path}.t`) };
    }
  }
}

/** Validates a batch (an array of events). */
export function parseBatch(raw: unknown, path = 'batch'): MeviEvent[] {
  return arr(raw, path).map((e, i) => parseEvent(e, `${path}[${i}]`));
}

// ---- server messages ----------------------------------------------------

function flatRanges(v: unknown, path: string): number[] {
  const a = arr(v, path);
  if (a.length % 3 !== 0) fail(path, 'a flat range list (length a multiple of 3)', `${a.length} elements`);
  const out = new Array<number>(a.length);
  let prevEnd = 0;
  for (let i = 0; i < a.length; i += 3) {
    const [s, e] = addrRange(a[i], a[i + 1], `${path}[${i / 3}]`);
    if (s < prevEnd) fail(`${path}[${i / 3}]`, 'sorted, non-overlapping ranges', [s, e]);
    prevEnd = e;
    out[i] = s;
    out[i + 1] = e;
    out[i + 2] = state(a[i + 2], `${path}[${i / 3}].state`);
  }
  return out;
}

/**
 * A flat annotation list [start, end, value, (name,) ...] with `stride`
 * elements per range: sorted, non-overlapping, values checked by `value`
 * (and names, for the vma map, as strings).
 */
function flatAnnotations<T extends number | string>(v: unknown, path: string, stride: 3 | 4, value: (x: unknown, p: string) => number): T[] {
  const a = arr(v, path);
  if (a.length % stride !== 0) fail(path, `a flat list (length a multiple of ${stride})`, `${a.length} elements`);
  const out = new Array<number | string>(a.length);
  let prevEnd = 0;
  for (let i = 0; i < a.length; i += stride) {
    const p = `${path}[${i / stride}]`;
    const [s, e] = addrRange(a[i], a[i + 1], p);
    if (s < prevEnd) fail(p, 'sorted, non-overlapping ranges', [s, e]);
    prevEnd = e;
    out[i] = s;
    out[i + 1] = e;
    out[i + 2] = value(a[i + 2], `${p}.value`);
    if (stride === 4) out[i + 3] = str(a[i + 3], `${p}.name`);
  }
  return out as T[];
}

function threadList(v: unknown, path: string): (number | string)[] {
  const a = arr(v, path);
  if (a.length % 2 !== 0) fail(path, 'a flat [tid, name, ...] list', `${a.length} elements`);
  return a.map((x, i) => (i % 2 ? str(x, `${path}[${i}]`) : tid(x, `${path}[${i}]`)));
}

function stackTable(v: unknown, path: string): [number, Frame[]][] {
  return arr(v, path).map((x, i) => {
    const pair = arr(x, `${path}[${i}]`, 2);
    return [uint32(pair[0], `${path}[${i}].stack_id`), frames(pair[1], `${path}[${i}].frames`)];
  });
}

function history(v: unknown, path: string): number[] {
  const a = arr(v, path);
  if (a.length % 2 !== 0) fail(path, 'a flat [ts, rss, ...] list', `${a.length} elements`);
  return a.map((x, i) => uint(x, `${path}[${i}]`));
}

function parseProcess(v: unknown, path: string): ProcessSnapshot {
  const a = arr(v, path);
  // 11 elements before version 3 (recordings and moments without heat), 12 since.
  if (a.length !== 11 && a.length !== 12) fail(path, 'an array of 11 or 12 elements', `${a.length} elements`);
  return {
    pid: int32(a[0], `${path}.pid`),
    ppid: int32(a[1], `${path}.ppid`),
    cmdline: strs(a[2], `${path}.cmdline`),
    alive: bool(a[3], `${path}.alive`),
    exit_status: nullableStatus(a[4], `${path}.exit_status`),
    ranges: flatRanges(a[5], `${path}.ranges`),
    rss_history: history(a[6], `${path}.rss_history`),
    vmas: flatAnnotations<number | string>(a[7], `${path}.vmas`, 4, kind),
    origins: flatAnnotations<number>(a[8], `${path}.origins`, 3, uint32),
    touches: flatAnnotations<number>(a[9], `${path}.touches`, 3, tid),
    threads: threadList(a[10], `${path}.threads`),
    written: a.length > 11 ? flatAnnotations<number>(a[11], `${path}.written`, 3, uint32) : [],
  };
}

function parseSession(v: unknown, path: string): SessionSnapshot {
  const a = arr(v, path);
  if (a.length !== 11 && a.length !== 12) fail(path, 'an array of 11 or 12 elements', `${a.length} elements`);
  return {
    id: uint(a[0], `${path}.id`),
    argv: strs(a[1], `${path}.argv`),
    launcher_pid: int32(a[2], `${path}.launcher_pid`),
    alive: bool(a[3], `${path}.alive`),
    exit_status: nullableStatus(a[4], `${path}.exit_status`),
    mode: uint(a[5], `${path}.mode`),
    started_at: bigUint(a[6], `${path}.started_at`),
    processes: arr(a[7], `${path}.processes`).map((p, i) => parseProcess(p, `${path}.processes[${i}]`)),
    rss_history: history(a[8], `${path}.rss_history`),
    sample_ms: uint32(a[9], `${path}.sample_ms`),
    stacks: stackTable(a[10], `${path}.stacks`),
    ...(a.length > 11 ? { engine: str(a[11], `${path}.engine`) } : {}),
  };
}

/** Validates an already msgpack-decoded /stream message. */
export function parseServerMessage(raw: unknown): ServerMessage {
  const a = arr(raw, 'message');
  const kind = uint(a[0], 'message[0]');
  if (kind === 0) {
    arr(raw, 'snapshot', 4);
    const version = uint(a[1], 'snapshot.version');
    // A tab that outlived a daemon upgrade must not interpret another version's
    // layout: it gets no sessions, and the store says why (reload the page).
    if (version !== PROTOCOL_VERSION) return { kind: 'snapshot', version, now: 0n, sessions: [] };
    return {
      kind: 'snapshot',
      version,
      now: bigUint(a[2], 'snapshot.now'),
      sessions: arr(a[3], 'snapshot.sessions').map((s, i) => parseSession(s, `snapshot.sessions[${i}]`)),
    };
  }
  if (kind === 1) {
    arr(raw, 'delta', 3);
    return {
      kind: 'delta',
      now: bigUint(a[1], 'delta.now'),
      batches: arr(a[2], 'delta.batches').map((b, i) => {
        const pair = arr(b, `delta.batches[${i}]`, 2);
        return {
          sessionId: uint(pair[0], `delta.batches[${i}].session_id`),
          events: parseBatch(pair[1], `delta.batches[${i}].batch`),
        };
      }),
    };
  }
  if (kind === 2) {
    arr(raw, 'moment', 10);
    const version = uint(a[1], 'moment.version');
    const base = {
      kind: 'moment' as const,
      version,
      now: bigUint(a[2], 'moment.now'),
      sessionId: uint(a[3], 'moment.session_id'),
      at: uint(a[4], 'moment.at'),
      ts: uint(a[5], 'moment.ts'),
      prevTs: uint(a[6], 'moment.prev_ts'),
      nextTs: uint(a[7], 'moment.next_ts'),
      endTs: uint(a[8], 'moment.end_ts'),
    };
    // A moment from another protocol version is not interpreted further.
    if (version !== PROTOCOL_VERSION) return { ...base, session: `protocol version ${version}` };
    const session = typeof a[9] === 'string' ? a[9] : parseSession(a[9], 'moment.session');
    return { ...base, session };
  }
  fail('message[0]', 'a message kind (0 snapshot, 1 delta, 2 moment)', a[0]);
}

/** msgpack-decodes raw bytes (int64 as bigint). Throws ProtocolError on malformed msgpack. */
export function decodeMsgpack(bytes: Uint8Array | ArrayBuffer): unknown {
  try {
    return decode(bytes, { useBigInt64: true });
  } catch (err) {
    throw new ProtocolError(`malformed msgpack: ${(err as Error).message}`);
  }
}

/**
 * The message kind of a raw frame without decoding it (the first element of
 * the top-level array), or -1 when the bytes do not start that way.
 */
export function peekKind(bytes: ArrayBuffer | Uint8Array): number {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let i: number;
  if (b[0] !== undefined && b[0] >= 0x90 && b[0] <= 0x9f) i = 1;
  else if (b[0] === 0xdc) i = 3;
  else if (b[0] === 0xdd) i = 5;
  else return -1;
  const k = b[i];
  return k !== undefined && k <= 0x7f ? k : -1;
}

/** Decodes and validates one binary /stream frame. */
export function decodeServerMessage(bytes: Uint8Array | ArrayBuffer): ServerMessage {
  return parseServerMessage(decodeMsgpack(bytes));
}

/** Decodes and validates one launcher batch (tests/vectors/wire/events.msgpack). */
export function decodeBatch(bytes: Uint8Array | ArrayBuffer): MeviEvent[] {
  return parseBatch(decodeMsgpack(bytes));
}

// ---- encoding (tests and tools) ---------------------------------------

/** The wire array of one event. */
export function eventToWire(ev: MeviEvent): unknown[] {
  const head = [EVENT_TYPES.indexOf(ev.type), ev.pid, ev.ts];
  switch (ev.type) {
    case 'session_start':
      return [...head, ev.version, ev.mode, ev.resume, ev.started_at, ev.argv, ev.sample_ms];
    case 'session_end':
    case 'proc_exit':
      return [...head, ev.status];
    case 'proc_start':
      return [...head, ev.ppid, ev.flags, ev.cmdline];
    case 'proc_exec':
      return [...head, ev.cmdline];
    case 'map':
    case 'state':
      return [...head, ev.start, ev.end, ev.state];
    case 'unmap':
      return [...head, ev.start, ev.end];
    case 'remap':
      return [...head, ev.from_start, ev.from_end, ev.to_start, ev.to_end];
    case 'stack':
      return [...head, ev.stack_id, ev.frames.map(frameToWire)];
    case 'origin':
      return [...head, ev.start, ev.end, ev.stack_id];
    case 'vma':
      return [...head, ev.start, ev.end, ev.kind, ev.name];
    case 'thread':
      return [...head, ev.tid, ev.name];
    case 'touch':
      return [...head, ev.start, ev.end, ev.tid];
    case 'sampling':
      return [...head, ev.sample_ms];
    case 'engine':
      return [...head, ev.name, ev.corrections, ev.drops];
    case 'written':
      return [...head, ev.start, ev.end, ev.t];
  }
}

/** The wire array of one frame: [pc, func, module, source-or-nil]. */
export function frameToWire(f: Frame): unknown[] {
  return [f.pc, f.func, f.module, f.source];
}

/** The wire array of a session as snapshots and moments carry it (tests and tools). */
export function sessionToWire(s: SessionSnapshot): unknown[] {
  return [
    s.id,
    s.argv,
    s.launcher_pid,
    s.alive,
    s.exit_status,
    s.mode,
    s.started_at,
    s.processes.map((p) => [p.pid, p.ppid, p.cmdline, p.alive, p.exit_status, p.ranges, p.rss_history, p.vmas, p.origins, p.touches, p.threads, p.written]),
    s.rss_history,
    s.sample_ms,
    s.stacks.map(([id, fr]) => [id, fr.map(frameToWire)]),
    ...(s.engine === undefined ? [] : [s.engine]),
  ];
}

/**
 * Integers that need 64 bits become bigint so that the encoder writes
 * (u)int64 exactly like msgpack-c does, and bigints that fit in 32 bits become
 * numbers so that they get the smallest encoding.
 */
function widen(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(widen);
  if (typeof v === 'number' && Number.isInteger(v) && (v >= 2 ** 32 || v < -(2 ** 31))) return BigInt(v);
  if (typeof v === 'bigint' && v < 2n ** 32n && v >= -(2n ** 31n)) return Number(v);
  return v;
}

/** msgpack-encodes any wire value with msgpack-c's smallest-encoding rules. */
export function encodeWire(value: unknown): Uint8Array {
  return encode(widen(value), { useBigInt64: true });
}

/** Encodes a batch of events. */
export function encodeBatch(events: MeviEvent[]): Uint8Array {
  return encodeWire(events.map(eventToWire));
}
