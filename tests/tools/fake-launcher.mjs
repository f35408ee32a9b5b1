#!/usr/bin/env node
/*
 * fake-launcher — plays the launcher (mevi-run) side of mevi's Unix-socket
 * protocol (proto/PROTOCOL.md) without tracing anything: it connects to mevid,
 * reads the greeting ["mevid", version, url], and sends a scripted session as
 * msgpack batches. For the frontend's e2e test, load tests, and anyone who
 * wants to see the UI move without a real program.
 *
 * Usage: node tests/tools/fake-launcher.mjs [--socket PATH] [options]
 *
 *   --socket PATH     mevid's socket. Default: $MEVI_SOCKET, else
 *                     $XDG_RUNTIME_DIR/mevi/mevid.sock, else /tmp/mevi-$UID/mevid.sock
 *   --scenario NAME   demo   (default) a small program that grows its heap, maps and
 *                            touches memory, forks, execs, and has children exit
 *                     load   --procs processes holding --ranges ranges in total, then
 *                            --churn page state flips every --interval ms
 *                     stdin  commands from stdin, one per line (below)
 *   --pid N           launcher pid to announce (default: this process's pid)
 *   --argv "A B C"    session argv (default depends on the scenario)
 *   --interval MS     batch flush interval (default 16)
 *   --speed X         demo: time factor, 2 = twice as fast (default 1)
 *   --loop            demo: start over (new processes) instead of ending
 *   --ranges N        load: total ranges (default 200000)
 *   --procs N         load: processes (default 1)
 *   --groups N        load: address-space groups per process (default 1)
 *   --churn N         load: state flips per interval (default 2000)
 *   --duration MS     load: churn time, 0 = forever (default 10000)
 *   --hold            at the end keep the session open (no session_end) until
 *                     SIGINT/SIGTERM or stdin closes
 *   --reconnect       when mevid goes away, reconnect and send a snapshot
 *                     (session_start with resume=true, then proc_start/map events)
 *   --exit-status N   session_end status (default 0)
 *   --mode M          exact (default) or sampled: the session_start's mode
 *   --sample-ms N     sampled mode: the interval announced (default 50)
 *   --annotate        load: also send vma and origin annotations (16 call sites)
 *   --quiet           no progress lines on stderr
 *
 * It speaks protocol version 2: session_start has 9 elements (sample_ms last),
 * and the demo sends the version 2 annotations (vma, stack, origin, thread,
 * touch) of a program that maps memory from a few call sites.
 *
 * stdin commands (addresses hex 0x... or decimal; STATE resident | not_resident
 * | untracked | swapped | 0 | 1 | 2 | 3):
 *   start PID PPID [fork] [CMDLINE...]   proc_start (fork: inherit the parent's map)
 *   exec PID CMDLINE...                  proc_exec
 *   map PID START END STATE              map
 *   state PID START END STATE            state
 *   unmap PID START END                  unmap
 *   remap PID FROM_START FROM_END TO_START TO_END
 *   exit PID STATUS                      proc_exit
 *   vma PID START END KIND [NAME...]     vma (KIND anon | heap | stack | thread_stack | file | shmem | special | 0..6)
 *   stack PID ID [FRAME...]              stack; FRAME is func@module@source (source "-" for none),
 *                                        optionally @0xPC; spaces are not allowed inside a frame
 *   origin PID START END STACK_ID        origin
 *   thread PID TID NAME...               thread
 *   touch PID START END TID              touch
 *   sampling MS                          sampling (the session's interval changes)
 *   end STATUS                           session_end, close, exit 0
 *   flush                                send the pending batch now
 *   sleep MS
 *
 * stdout carries one JSON object per line for programs driving it:
 *   {"event":"greeting","version":1,"url":"http://127.0.0.1:5001/"}
 *   {"event":"ok","line":N,"rss":{"PID":bytes,...}}   after each stdin command, once sent
 *   {"event":"error","line":N,"message":"..."}
 *   {"event":"loaded","ranges":N}                     load scenario: all ranges sent
 *   {"event":"reconnected"} / {"event":"disconnected"} / {"event":"done"}
 *
 * Exit status: 0 after a clean end, 1 on usage or connection errors, 2 when
 * mevid closed the connection and --reconnect was not given.
 *
 * It needs frontend/node_modules (npm ci in frontend/): @msgpack/msgpack for
 * the wire, typescript to load frontend/src/memmap.ts, the same memory-map
 * model the UI uses, which lets it send a correct snapshot on reconnect and
 * report the RSS it expects mevid to show.
 */
import net from 'node:net';
import os from 'node:os';
import readline from 'node:readline';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const frontend = join(here, '..', '..', 'frontend');
const require = createRequire(join(frontend, 'package.json'));
const { encode, decodeMultiStream } = await import(pathToFileURL(require.resolve('@msgpack/msgpack')).href);

const { MemMap } = await loadTs('memmap.ts');
const { TagMap } = await loadTs('tagmap.ts');

/**
 * Loads a frontend module (frontend/src/NAME) through TypeScript's transpiler.
 * A data: URL cannot resolve relative imports, so the module's own ('./x',
 * as memmap.ts and tagmap.ts import intervalmap.ts) are loaded the same way
 * and put in as data: URLs (the same text gives the same URL: one instance).
 */
function loadTs(name) {
  return import(tsDataUrl(name));
}

function tsDataUrl(name) {
  const ts = require('typescript');
  const src = readFileSync(join(frontend, 'src', name), 'utf8');
  const js = ts
    .transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText.replace(/(\bfrom\s*)(['"])\.\/([\w.-]+?)(\.ts)?\2/g, (_m, from, q, dep) => `${from}${q}${tsDataUrl(`${dep}.ts`)}${q}`);
  return `data:text/javascript;base64,${Buffer.from(js).toString('base64')}`;
}

// ---- options -----------------------------------------------------------------

function usage(msg) {
  if (msg) process.stderr.write(`fake-launcher: ${msg}\n`);
  process.stderr.write('usage: node tests/tools/fake-launcher.mjs [--socket PATH] [--scenario demo|load|stdin] [options] (see the top of the file)\n');
  process.exit(1);
}

function parseArgs(argv) {
  const o = {
    socket: process.env.MEVI_SOCKET || (process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'mevi', 'mevid.sock') : `/tmp/mevi-${os.userInfo().uid}/mevid.sock`),
    scenario: 'demo', pid: process.pid, argv: null, interval: 16, speed: 1, loop: false,
    ranges: 200000, procs: 1, groups: 1, churn: 2000, duration: 10000,
    hold: false, reconnect: false, exitStatus: 0, quiet: false,
    mode: 0, sampleMs: 50, annotate: false,
  };
  const num = (v, name) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) usage(`${name} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    switch (a) {
      case '--socket': o.socket = v() ?? usage('--socket needs a path'); break;
      case '--scenario': o.scenario = v(); break;
      case '--pid': o.pid = num(v(), a); break;
      case '--argv': o.argv = (v() ?? '').split(' ').filter(Boolean); break;
      case '--interval': o.interval = num(v(), a); break;
      case '--speed': o.speed = num(v(), a); break;
      case '--loop': o.loop = true; break;
      case '--ranges': o.ranges = num(v(), a); break;
      case '--procs': o.procs = num(v(), a); break;
      case '--groups': o.groups = num(v(), a); break;
      case '--churn': o.churn = num(v(), a); break;
      case '--duration': o.duration = num(v(), a); break;
      case '--hold': o.hold = true; break;
      case '--reconnect': o.reconnect = true; break;
      case '--exit-status': o.exitStatus = num(v(), a); break;
      case '--quiet': o.quiet = true; break;
      case '--mode': {
        const m = v();
        if (m !== 'exact' && m !== 'sampled') usage('--mode is exact or sampled');
        o.mode = m === 'sampled' ? 1 : 0;
        break;
      }
      case '--sample-ms': o.sampleMs = num(v(), a); break;
      case '--annotate': o.annotate = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown option ${a}`);
    }
  }
  if (!['demo', 'load', 'stdin'].includes(o.scenario)) usage(`unknown scenario ${o.scenario}`);
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const log = (msg) => opt.quiet || process.stderr.write(`fake-launcher: ${msg}\n`);
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- wire ----------------------------------------------------------------------

const P = 4096;
const PROTO_VERSION = 3;
const STATES = { not_resident: 0, resident: 1, untracked: 2, swapped: 3 };
const KINDS = { anon: 0, heap: 1, stack: 2, thread_stack: 3, file: 4, shmem: 5, special: 6 };
const T = {
  session_start: 0, session_end: 1, proc_start: 2, proc_exec: 3, proc_exit: 4, map: 5, unmap: 6, remap: 7, state: 8,
  stack: 9, origin: 10, vma: 11, thread: 12, touch: 13, sampling: 14,
};
const MAX_BATCH_EVENTS = 16384; // well under mevid's 65536

/** Integers that need 64 bits must be bigint for @msgpack/msgpack to write them as msgpack-c does. */
function widen(v) {
  if (Array.isArray(v)) return v.map(widen);
  if (typeof v === 'number' && Number.isInteger(v) && (v >= 2 ** 32 || v < -(2 ** 31))) return BigInt(v);
  return v;
}

const t0 = process.hrtime.bigint();
const startedAt = BigInt(Date.now()) * 1_000_000n;
const now = () => Number(process.hrtime.bigint() - t0);

class Session {
  constructor(sock) {
    this.sock = sock;
    this.pending = [];
    this.procs = new Map(); // pid -> { ppid, cmdline, alive, status, map, vmas, origins, touches, threads }
    this.stacks = new Map(); // id -> [pid, frames on the wire]
    this.vmaNames = []; // vma value (index) -> [kind, name]
    this.sampleMs = opt.mode === 1 ? opt.sampleMs : 0;
    this.ended = false;
  }

  emit(ev) {
    this.pending.push(ev);
    if (this.pending.length >= MAX_BATCH_EVENTS) this.flush();
  }

  /** Writes pending events as one or more batches. Resolves when the socket took them. */
  flush() {
    if (this.pending.length === 0 || !this.sock) return Promise.resolve();
    const sock = this.sock;
    let last = Promise.resolve();
    while (this.pending.length) {
      const batch = this.pending.splice(0, MAX_BATCH_EVENTS);
      const bytes = encode(widen(batch), { useBigInt64: true });
      last = new Promise((resolve) => {
        if (!sock.write(bytes)) sock.once('drain', resolve);
        else resolve();
      });
    }
    return last;
  }

  sessionStart(resume) {
    const argv = opt.argv ?? { demo: ['demo-prog', '--grow', '64M'], load: ['load-prog', `--ranges=${opt.ranges}`], stdin: ['scripted'] }[opt.scenario];
    this.emit([T.session_start, opt.pid, now(), PROTO_VERSION, opt.mode, resume, startedAt, argv, this.sampleMs]);
  }

  start(pid, ppid, cmdline, fork = false) {
    const parent = this.procs.get(ppid);
    const inherit = fork && parent;
    const map = inherit ? parent.map.clone() : new MemMap();
    this.procs.set(pid, {
      ppid, cmdline, alive: true, status: null, map,
      vmas: inherit ? parent.vmas.clone() : new TagMap(),
      origins: inherit ? parent.origins.clone() : new TagMap(),
      touches: inherit ? parent.touches.clone() : new TagMap(),
      threads: new Map(),
    });
    this.emit([T.proc_start, pid, now(), ppid, fork ? 1 : 0, cmdline]);
  }

  /** frames: [[pc, func, module, source|null], ...] */
  stack(pid, id, frames) {
    this.stacks.set(id, [pid, frames]);
    this.emit([T.stack, pid, now(), id, frames]);
  }

  origin(pid, s, e, id) {
    this.proc(pid).origins.set(s, e, id);
    this.emit([T.origin, pid, now(), s, e, id]);
  }

  vma(pid, s, e, kind, name = '') {
    let v = this.vmaNames.findIndex(([k, n]) => k === kind && n === name);
    if (v < 0) v = this.vmaNames.push([kind, name]) - 1;
    this.proc(pid).vmas.set(s, e, v);
    this.emit([T.vma, pid, now(), s, e, kind, name]);
  }

  thread(pid, tid, name) {
    this.proc(pid).threads.set(tid, name);
    this.emit([T.thread, pid, now(), tid, name]);
  }

  touch(pid, s, e, tid) {
    this.proc(pid).touches.set(s, e, tid);
    this.emit([T.touch, pid, now(), s, e, tid]);
  }

  sampling(ms) {
    this.sampleMs = ms;
    this.emit([T.sampling, opt.pid, now(), ms]);
  }

  proc(pid) {
    const p = this.procs.get(pid);
    if (!p) throw new Error(`unknown pid ${pid}`);
    return p;
  }

  exec(pid, cmdline) {
    const p = this.proc(pid);
    p.map.clear();
    p.vmas.clear();
    p.origins.clear();
    p.touches.clear();
    p.cmdline = cmdline;
    this.emit([T.proc_exec, pid, now(), cmdline]);
  }

  map(pid, s, e, st) {
    this.proc(pid).map.set(s, e, st);
    this.emit([T.map, pid, now(), s, e, st]);
  }

  state(pid, s, e, st) {
    this.proc(pid).map.update(s, e, st);
    this.emit([T.state, pid, now(), s, e, st]);
  }

  unmap(pid, s, e) {
    const p = this.proc(pid);
    for (const m of [p.map, p.vmas, p.origins, p.touches]) m.remove(s, e);
    this.emit([T.unmap, pid, now(), s, e]);
  }

  remap(pid, fs, fe, ts, te) {
    const p = this.proc(pid);
    for (const m of [p.map, p.vmas, p.origins, p.touches]) m.remap(fs, fe, ts, te);
    this.emit([T.remap, pid, now(), fs, fe, ts, te]);
  }

  exit(pid, status) {
    const p = this.proc(pid);
    p.alive = false;
    p.status = status;
    this.emit([T.proc_exit, pid, now(), status]);
  }

  end(status) {
    this.ended = true;
    this.emit([T.session_end, opt.pid, now(), status]);
  }

  /** After a reconnect: everything mevid needs to rebuild this session. */
  resendSnapshot() {
    this.sessionStart(true);
    const resent = new Set();
    // Parents before children, so a fork's parent exists (order of first start).
    for (const [pid, p] of this.procs) {
      this.emit([T.proc_start, pid, now(), p.ppid, 0, p.cmdline]);
      p.map.forEach((s, e, st) => {
        this.emit([T.map, pid, now(), s, e, st]);
      });
      // Version 2: the annotations are cleared by the resume; send them again,
      // each stack before the first origin naming it.
      for (const [tid, name] of p.threads) this.emit([T.thread, pid, now(), tid, name]);
      p.vmas.forEach((s, e, v) => {
        const [kind, name] = this.vmaNames[v];
        this.emit([T.vma, pid, now(), s, e, kind, name]);
      });
      p.origins.forEach((s, e, id) => {
        const st = this.stacks.get(id);
        if (st && !resent.has(id)) {
          resent.add(id);
          this.emit([T.stack, st[0], now(), id, st[1]]);
        }
        this.emit([T.origin, pid, now(), s, e, id]);
      });
      p.touches.forEach((s, e, tid) => {
        this.emit([T.touch, pid, now(), s, e, tid]);
      });
      if (!p.alive) this.emit([T.proc_exit, pid, now(), p.status]);
    }
    if (this.ended) this.emit([T.session_end, opt.pid, now(), opt.exitStatus]);
  }

  rssByPid() {
    return Object.fromEntries([...this.procs].map(([pid, p]) => [pid, p.map.rss]));
  }
}

// ---- connection ----------------------------------------------------------------

let session = null;
let closing = false;

/** Connects and reads the greeting. Resolves with the socket. */
function connect() {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(opt.socket);
    sock.once('error', reject);
    sock.once('connect', async () => {
      sock.off('error', reject);
      try {
        const it = decodeMultiStream(sock, { useBigInt64: true })[Symbol.asyncIterator]();
        const first = await it.next();
        const g = first.value;
        if (first.done || !Array.isArray(g) || g[0] !== 'mevid') throw new Error(`unexpected greeting ${JSON.stringify(g)}`);
        out({ event: 'greeting', version: Number(g[1]), url: String(g[2]) });
        if (Number(g[1]) !== PROTO_VERSION) log(`mevid speaks protocol ${g[1]}, this tool speaks ${PROTO_VERSION}`);
        // Drain (and ignore) anything else mevid might send.
        (async () => {
          try {
            for (;;) if ((await it.next()).done) break;
          } catch {
            /* the close handler reports */
          }
        })();
        resolve(sock);
      } catch (err) {
        sock.destroy();
        reject(err);
      }
    });
  });
}

async function connectWithRetry(first) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (first && !opt.reconnect) {
        process.stderr.write(`fake-launcher: cannot connect to ${opt.socket}: ${err.message}\n`);
        process.exit(1);
      }
      if (attempt % 20 === 0) log(`waiting for mevid at ${opt.socket} (${err.code ?? err.message})`);
      await sleep(250);
    }
  }
}

function watch(sock) {
  sock.on('error', () => undefined);
  sock.on('close', async () => {
    if (closing) return;
    if (session) session.sock = null;
    out({ event: 'disconnected' });
    if (!opt.reconnect) {
      process.stderr.write('fake-launcher: mevid closed the connection\n');
      process.exit(2);
    }
    log('mevid went away; reconnecting');
    const s = await connectWithRetry(false);
    session.sock = s;
    watch(s);
    session.resendSnapshot();
    await session.flush();
    out({ event: 'reconnected' });
  });
}

let ticker = null;
function startTicker() {
  ticker = setInterval(() => void session.flush(), opt.interval);
}

async function finish() {
  if (opt.hold) {
    log('holding the session open (SIGINT/SIGTERM or closing stdin ends it)');
    await new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      if (opt.scenario !== 'stdin') process.stdin.once('end', resolve);
      process.stdin.resume();
    });
  }
  session.end(opt.exitStatus);
  await session.flush();
  closing = true;
  clearInterval(ticker);
  session.sock?.end();
  out({ event: 'done' });
  setTimeout(() => process.exit(0), 50);
}

// ---- scenarios -----------------------------------------------------------------

const MiB = 1024 * 1024;

async function demo(s) {
  const wait = (ms) => sleep(ms / opt.speed);
  let round = 0;
  do {
    const base = opt.pid + 1 + round * 10;
    const main = base;
    s.start(main, opt.pid, ['/usr/bin/python3', 'demo.py', '--grow', '64M']);
    // Version 2 annotations: the call sites that map memory, thread names.
    const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
    const site = (id, ...frames) => s.stack(main, id + round * 100, frames.map(([pc, f, m, src]) => [pc, f, m, src ?? null]));
    site(1, [0x7ffff7e9a1b2, '__brk+0xb', libc], [0x7ffff7e21c4d, 'sysmalloc+0x2ad', libc], [0x555555555189, 'grow_heap+0x19', 'demo', 'demo.c:18'], [0x5555555552a0, 'main+0x40', 'demo', 'demo.c:77']);
    site(2, [0x7ffff7ea4b10, 'mmap64+0x20', libc], [0x7ffff7e5d0ee, 'pthread_create@@GLIBC_2.34+0x4fe', libc], [0x555555555201, 'start_worker+0x21', 'demo', 'demo.c:41'], [0x5555555552b8, 'main+0x58', 'demo', 'demo.c:80']);
    site(3, [0x7ffff7ea4b10, 'mmap64+0x20', libc], [0x555555555310, 'alloc_buffer+0x1c', 'demo', 'demo.c:31'], [0x5555555552d4, 'main+0x74', 'demo', 'demo.c:84']);
    s.thread(main, main, 'python3');
    s.thread(main, main + 5, 'worker-1');
    // The heap grows with brk and is touched as it grows.
    const heap = 0x555555a00000;
    s.map(main, heap, heap + 132 * 1024, STATES.not_resident);
    s.vma(main, heap, heap + 132 * 1024, KINDS.heap, '[heap]');
    s.origin(main, heap, heap + 132 * 1024, 1 + round * 100);
    s.state(main, heap, heap + 64 * 1024, STATES.resident);
    s.touch(main, heap, heap + 64 * 1024, main);
    // A thread stack and its arena (reserved, grown later).
    const stack = 0x7ffff7000000;
    s.map(main, stack, stack + 8 * MiB, STATES.not_resident);
    s.vma(main, stack, stack + 8 * MiB, KINDS.thread_stack, String(main + 5));
    s.origin(main, stack, stack + 8 * MiB, 2 + round * 100);
    s.state(main, stack + 8 * MiB - 64 * 1024, stack + 8 * MiB, STATES.resident);
    s.touch(main, stack + 8 * MiB - 64 * 1024, stack + 8 * MiB, main + 5);
    const arena = 0x7fffe8000000;
    s.map(main, arena, arena + 64 * MiB, STATES.untracked);
    s.vma(main, arena, arena + 64 * MiB, KINDS.anon, 'arena');
    await wait(600);
    // A 64 MiB buffer, filled 1 MiB at a time.
    const buf = 0x7fffd0000000;
    s.map(main, buf, buf + 64 * MiB, STATES.not_resident);
    s.vma(main, buf, buf + 64 * MiB, KINDS.anon, '');
    s.origin(main, buf, buf + 64 * MiB, 3 + round * 100);
    for (let i = 0; i < 64; i += 2) {
      s.state(main, buf + i * MiB, buf + (i + 2) * MiB, STATES.resident);
      s.state(main, heap + 64 * 1024 + i * 4096, heap + 64 * 1024 + (i + 1) * 4096, STATES.resident);
      await wait(120);
    }
    // brk growth, and part of the buffer dropped with MADV_DONTNEED.
    s.map(main, heap + 132 * 1024, heap + 4 * MiB, STATES.not_resident);
    s.state(main, heap + 132 * 1024, heap + 2 * MiB, STATES.resident);
    s.state(main, buf + 16 * MiB, buf + 40 * MiB, STATES.not_resident);
    await wait(800);
    // Fork a child that execs a compiler, which allocates and then exits.
    const cc = base + 1;
    s.start(cc, main, ['/usr/bin/python3', 'demo.py', '--grow', '64M'], true);
    await wait(300);
    s.exec(cc, ['/usr/bin/cc', '-O2', '-c', 'big.c', '-o', 'big.o']);
    const ccHeap = 0x555556000000;
    s.map(cc, ccHeap, ccHeap + 24 * MiB, STATES.not_resident);
    for (let i = 0; i < 24; i++) {
      s.state(cc, ccHeap + i * MiB, ccHeap + i * MiB + 768 * 1024, STATES.resident);
      await wait(80);
    }
    // A second child (fork, no exec) that is killed.
    const worker = base + 2;
    s.start(worker, main, ['/usr/bin/python3', 'demo.py', '--worker'], true);
    s.state(worker, buf, buf + 8 * MiB, STATES.not_resident);
    await wait(700);
    s.exit(cc, 0);
    // mremap: the buffer grows in place (the tail is not resident yet).
    s.remap(main, buf, buf + 64 * MiB, buf, buf + 96 * MiB);
    for (let i = 64; i < 80; i++) {
      s.state(main, buf + i * MiB, buf + (i + 1) * MiB, STATES.resident);
      await wait(60);
    }
    await wait(800);
    s.exit(worker, 137);
    s.unmap(main, buf, buf + 32 * MiB);
    await wait(1500);
    if (opt.loop) {
      s.exit(main, 0);
      await wait(1000);
    } else {
      s.exit(main, 0);
    }
    round++;
  } while (opt.loop);
}

/** Deterministic PRNG so runs are comparable. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function load(s) {
  const r = rng(42);
  const per = Math.ceil(opt.ranges / opt.procs);
  const layouts = [];
  for (let k = 0; k < opt.procs; k++) {
    const pid = opt.pid + 1 + k;
    s.start(pid, k === 0 ? opt.pid : opt.pid + 1, ['load-worker', `#${k}`], false);
    // Ranges alternate resident / not resident, page by page, in --groups groups
    // 1 GiB apart; every other page boundary is a range boundary.
    const groups = Math.max(1, opt.groups);
    const perGroup = Math.ceil(per / groups);
    const regions = [];
    let sent = 0;
    for (let g = 0; g < groups && sent < per; g++) {
      const base = 0x7f0000000000 + k * 0x10000000000 + g * 0x40000000;
      const n = Math.min(perGroup, per - sent);
      for (let i = 0; i < n; i++) s.map(pid, base + i * P, base + (i + 1) * P, i % 2);
      if (opt.annotate) {
        // One vma per region; origins in blocks of 1000 pages from 16 call sites.
        s.vma(pid, base, base + n * P, (k + g) % 2 ? KINDS.heap : KINDS.anon, (k + g) % 2 ? '[heap]' : '');
        for (let id = 0; id < 16 && k === 0 && g === 0; id++) s.stack(pid, id, [[0x7ffff7ea4b10, 'mmap64+0x20', 'libc.so.6', null], [0x401000 + id * 0x40, `site_${id}+0x1c`, 'load', `load.c:${10 + id}`]]);
        for (let i = 0; i < n; i += 1000) s.origin(pid, base + i * P, base + Math.min(n, i + 1000) * P, ((i / 1000) * 7 + k) % 16);
      }
      regions.push([base, n]);
      sent += n;
      await s.flush();
    }
    layouts.push({ pid, regions });
  }
  await s.flush();
  const total = layouts.reduce((n, l) => n + s.procs.get(l.pid).map.count, 0);
  out({ event: 'loaded', ranges: total });
  log(`sent ${total} ranges in ${opt.procs} process(es); churning ${opt.churn} flips every ${opt.interval} ms`);
  const until = opt.duration > 0 ? Date.now() + opt.duration : Infinity;
  let flips = 0;
  while (Date.now() < until && !stopRequested) {
    for (let i = 0; i < opt.churn; i++) {
      const l = layouts[Math.floor(r() * layouts.length)];
      const [base, n] = l.regions[Math.floor(r() * l.regions.length)];
      const page = Math.floor(r() * n);
      const a = base + page * P;
      const cur = s.procs.get(l.pid).map.lookup(a);
      s.state(l.pid, a, a + P, cur && cur[2] === 1 ? 0 : 1);
      flips++;
    }
    await s.flush();
    await sleep(opt.interval);
  }
  log(`churn done: ${flips} flips`);
}

let stopRequested = false;

async function stdinScript(s) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  let n = 0;
  const addr = (v) => {
    const x = v?.startsWith('0x') ? parseInt(v.slice(2), 16) : Number(v);
    if (!Number.isSafeInteger(x)) throw new Error(`bad address ${v}`);
    return x;
  };
  const st = (v) => {
    const x = v in STATES ? STATES[v] : Number(v);
    if (![0, 1, 2, 3].includes(x)) throw new Error(`bad state ${v}`);
    return x;
  };
  const kind = (v) => {
    const x = v in KINDS ? KINDS[v] : Number(v);
    if (!Number.isInteger(x) || x < 0 || x > 6) throw new Error(`bad kind ${v}`);
    return x;
  };
  const frame = (tok, i) => {
    const [func = '', module = '', source = '-', pc] = tok.split('@');
    return [pc ? addr(pc) : 0x401000 + i * 0x10, func, module, source === '-' ? null : source];
  };
  for await (const raw of rl) {
    n++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [cmd, ...a] = line.split(/\s+/);
    try {
      switch (cmd) {
        case 'start': {
          const fork = a[2] === 'fork';
          s.start(Number(a[0]), Number(a[1]), a.slice(fork ? 3 : 2), fork);
          break;
        }
        case 'exec': s.exec(Number(a[0]), a.slice(1)); break;
        case 'map': s.map(Number(a[0]), addr(a[1]), addr(a[2]), st(a[3])); break;
        case 'state': s.state(Number(a[0]), addr(a[1]), addr(a[2]), st(a[3])); break;
        case 'unmap': s.unmap(Number(a[0]), addr(a[1]), addr(a[2])); break;
        case 'remap': s.remap(Number(a[0]), addr(a[1]), addr(a[2]), addr(a[3]), addr(a[4])); break;
        case 'exit': s.exit(Number(a[0]), Number(a[1])); break;
        case 'vma': s.vma(Number(a[0]), addr(a[1]), addr(a[2]), kind(a[3]), a.slice(4).join(' ')); break;
        case 'stack': s.stack(Number(a[0]), Number(a[1]), a.slice(2).map(frame)); break;
        case 'origin': s.origin(Number(a[0]), addr(a[1]), addr(a[2]), Number(a[3])); break;
        case 'thread': s.thread(Number(a[0]), Number(a[1]), a.slice(2).join(' ')); break;
        case 'touch': s.touch(Number(a[0]), addr(a[1]), addr(a[2]), Number(a[3])); break;
        case 'sampling': s.sampling(Number(a[0])); break;
        case 'end':
          opt.exitStatus = Number(a[0] ?? 0);
          opt.hold = false;
          out({ event: 'ok', line: n, rss: s.rssByPid() });
          return;
        case 'flush': break;
        case 'sleep': await sleep(Number(a[0])); break;
        default: throw new Error(`unknown command ${cmd}`);
      }
      await s.flush();
      out({ event: 'ok', line: n, rss: s.rssByPid() });
    } catch (err) {
      out({ event: 'error', line: n, message: err.message });
    }
  }
}

// ---- main ----------------------------------------------------------------------

process.on('SIGTERM', () => {
  stopRequested = true; // the load scenario stops churning and ends the session cleanly
  if (opt.scenario !== 'load' && !opt.hold) process.exit(143);
});
const sock = await connectWithRetry(true);
session = new Session(sock);
watch(sock);
session.sessionStart(false);
await session.flush();
startTicker();
if (opt.scenario === 'demo') await demo(session);
else if (opt.scenario === 'load') await load(session);
else await stdinScript(session);
await finish();
