/*
 * lib — helpers shared by the browser e2e test and the render benchmark:
 * starting mevid and the fake launcher, finding a free port, launching
 * Debian's chromium through playwright-core (no browser download), and
 * loading frontend TypeScript modules that have no imports.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const frontendDir = join(repoRoot, 'frontend');
export const artifactsDir = join(repoRoot, 'build-frontend', 'e2e-artifacts');
const require = createRequire(join(frontendDir, 'package.json'));

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The mevid binary: $MEVID, else the usual build directories. */
export function findMevid() {
  const candidates = [process.env.MEVID, 'build-frontend/daemon/mevid', 'build/daemon/mevid', 'build-daemon/daemon/mevid'].filter(Boolean);
  for (const c of candidates) {
    const p = resolve(repoRoot, c);
    if (existsSync(p)) return p;
  }
  return null;
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpDir(prefix = 'mevi-e2e-') {
  const d = mkdtempSync(join(os.tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Polls fn until it returns a truthy value or the timeout passes. */
export async function waitFor(what, fn, timeoutMs = 10000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * Starts mevid in the foreground (extra args, e.g. --web-root DIR, appended).
 * Resolves once its HTTP port answers.
 */
export async function startMevid(bin, { socket, port, env = {}, args = [] }) {
  const child = spawn(bin, ['--foreground', '--socket', socket, '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, MEVI_LOG: process.env.MEVI_LOG ?? 'warn', ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.E2E_VERBOSE) process.stderr.write(d);
  });
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  await waitFor('mevid to listen', async () => {
    if (child.exitCode !== null) throw new Error(`mevid exited (${child.exitCode}): ${stderr}`);
    const r = await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null);
    return r?.ok;
  });
  return {
    child,
    exited,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Starts tests/tools/fake-launcher.mjs; its JSON stdout lines are collected. */
export function startLauncher(args) {
  const child = spawn(process.execPath, [join(repoRoot, 'tests', 'tools', 'fake-launcher.mjs'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events = [];
  const waiters = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.E2E_VERBOSE) process.stderr.write(d);
  });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    events.push(ev);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  let line = 0;
  return {
    child,
    events,
    exited,
    stderr: () => stderr,
    /** Waits for an event matching pred (already seen ones count). */
    async next(pred, timeoutMs = 10000) {
      return waitFor('a launcher event', () => events.find(pred), timeoutMs, 20);
    },
    /** Sends stdin commands; resolves with the "ok" of the last one. */
    async send(...cmds) {
      for (const c of cmds) child.stdin.write(`${c}\n`);
      line += cmds.length;
      const want = line;
      const ev = await waitFor(`launcher to ack line ${want}`, () => events.find((e) => e.line === want), 10000, 10);
      if (ev.event === 'error') throw new Error(`fake-launcher: ${ev.message}`);
      return ev;
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Launches Debian's chromium headless with a fresh profile. */
export async function launchBrowser() {
  const { chromium } = require('playwright-core');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  const profile = tmpDir('mevi-chromium-');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  return ctx;
}

/** Imports a frontend TypeScript module that has no imports (memmap.ts, format.ts). */
export async function importTs(rel) {
  const ts = require('typescript');
  const src = readFileSync(join(frontendDir, rel), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
}

export { pathToFileURL };
