/*
 * format — human-readable numbers: sizes in binary units, addresses, times.
 * The e2e test formats /api/state's numbers with these same functions.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * Formats a byte count in binary units: "0 B", "4 KiB", "1.5 MiB", "12.3 GiB",
 * "512 MiB". Three significant digits at most; exact values print without
 * decimals ("64 MiB", not "64.0 MiB").
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const neg = bytes < 0;
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  let text: string;
  if (u === 0 || Number.isInteger(v)) text = String(v);
  else if (v < 10) text = trimZeros(v.toFixed(2));
  else if (v < 100) text = trimZeros(v.toFixed(1));
  else text = v.toFixed(0);
  // Rounding can carry into the next unit ("1024 KiB").
  if (text === '1024' && u < UNITS.length - 1) {
    text = '1';
    u++;
  }
  return `${neg ? '-' : ''}${text} ${UNITS[u]}`;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** "0x7f12a4000000" */
export function formatAddress(addr: number): string {
  return `0x${addr.toString(16)}`;
}

/** "[0x1000, 0x3000)" */
export function formatRange(start: number, end: number): string {
  return `[${formatAddress(start)}, ${formatAddress(end)})`;
}

/** A duration given in ns: "850 ms", "12.4 s", "3 min 05 s", "2 h 03 min". */
export function formatDuration(ns: number): string {
  const ms = ns / 1e6;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const totalS = Math.floor(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m} min ${String(totalS % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Exit status as users read it: "exit 0", "exit 3", "killed by SIGKILL (137)", "detached" (-1). */
export function formatExitStatus(status: number): string {
  if (status === -1) return 'detached';
  if (status > 128 && status < 128 + 65) {
    const sig = status - 128;
    const name = SIGNALS[sig];
    return `killed by ${name ? `SIG${name}` : `signal ${sig}`} (${status})`;
  }
  return `exit ${status}`;
}

const SIGNALS: Record<number, string> = {
  1: 'HUP', 2: 'INT', 3: 'QUIT', 4: 'ILL', 5: 'TRAP', 6: 'ABRT', 7: 'BUS', 8: 'FPE', 9: 'KILL',
  10: 'USR1', 11: 'SEGV', 12: 'USR2', 13: 'PIPE', 14: 'ALRM', 15: 'TERM', 17: 'CHLD', 24: 'XCPU', 25: 'XFSZ',
};

/** Wall-clock time of a CLOCK_REALTIME ns value, local, "14:03:21". */
export function formatClock(ns: bigint): string {
  if (ns <= 0n) return '?';
  const d = new Date(Number(ns / 1_000_000n));
  return d.toLocaleTimeString([], { hour12: false });
}

/**
 * Labels for chart ticks given in seconds: as many decimals as the step
 * between ticks needs ("3.80 s", "3.85 s"), minutes past a minute ("2:05").
 */
export function formatSecondsTicks(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  const dec = step > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
  return ticks.map((t) => {
    if (t >= 60 && step >= 1) return `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, '0')}`;
    return `${t.toFixed(dec)} s`;
  });
}

/** A command-line argument as a chip shows it: one line, at most 80 characters (the chip's title has it all). */
export function formatArg(arg: string): string {
  const one = arg.replace(/\s+/g, ' ');
  return one.length > 80 ? `${one.slice(0, 77)}…` : one;
}

/**
 * How a session ended, in words (mevid's /api/state "end"): "exit 0",
 * "killed by SIGKILL (137)", "detached" (session_end -1: it runs on, untracked),
 * "launcher lost" (the connection closed without a session end: mevi-run was
 * killed, or a recording was cut short).
 */
export function formatSessionEnd(alive: boolean, exitStatus: number | null): string {
  if (alive) return 'running';
  if (exitStatus === null) return 'launcher lost';
  if (exitStatus === -1) return 'detached';
  return formatExitStatus(exitStatus);
}

/**
 * How a process ended: its own exit status when one was seen; otherwise what
 * ended its session ("detached", "launcher lost", "untracked" when the session
 * ended normally while it was still tracked, "gone" when its pid started
 * again). '' while it is alive.
 */
export function formatProcessEnd(alive: boolean, exitStatus: number | null, session: { alive: boolean; exitStatus: number | null }): string {
  if (alive) return '';
  if (exitStatus !== null) return formatExitStatus(exitStatus);
  if (session.alive) return 'gone';
  if (session.exitStatus === null) return 'launcher lost';
  if (session.exitStatus === -1) return 'detached';
  return 'untracked';
}
