// Processes for the benchmark: start pinned to a core in their own process group, stop by pid, and read
// CPU time and RSS of a whole process tree from /proc.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
}

const started: Started[] = [];

/** Start `cmd` pinned to `cpu` (taskset), detached into its own process group; output goes to logFile. */
export function startPinned(name: string, cpu: number, cmd: string[], logFile: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Started {
  const out = openSync(logFile, 'a');
  const child = spawn('taskset', ['-c', String(cpu), ...cmd], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${cmd.join(' ')}`);
  const s = { name, pid: child.pid, child };
  started.push(s);
  return s;
}

export function alive(s: Started): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

/** Stop one started process group: TERM, then KILL after graceMs. */
export async function stop(s: Started, graceMs = 1500): Promise<void> {
  const idx = started.indexOf(s);
  if (idx >= 0) started.splice(idx, 1);
  if (!alive(s)) return;
  const gone = new Promise<void>((r) => s.child.once('exit', () => r()));
  try {
    process.kill(-s.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = new Promise<'late'>((r) => setTimeout(r, graceMs, 'late'));
  if ((await Promise.race([gone, timer])) === 'late') {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Stop everything this run started (exit paths and signals). Synchronous KILL as a last resort. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((s) => stop(s)));
}
export function killAllNow(): void {
  for (const s of started.splice(0)) {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** The pids of root and all its descendants. */
export function treePids(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

const TICK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** user+system CPU seconds used so far by a process tree (the proxy and any workers it forked). */
export function cpuSeconds(root: number): number {
  return cpuSplit(root).total;
}

/**
 * User and total CPU seconds of a process tree. User time is the steadier of the two on a shared box: softirq
 * work for other processes' loopback traffic can be charged as system time to whatever runs on the core.
 */
export function cpuSplit(root: number): { user: number; total: number } {
  let ticks = 0;
  let user = 0;
  for (const pid of treePids(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
      user += Number(f[11]);
    } catch {
      /* exited */
    }
  }
  return { user: user / TICK, total: ticks / TICK };
}

/** Resident memory of a process tree in KiB. */
export function rssKib(root: number): number {
  return statusKib(root, 'VmRSS');
}

/**
 * Anonymous resident memory (RssAnon) of a process tree in KiB: RSS without the clean, shared pages of the
 * executable and libraries. A bigger program on the same runtime touches more of its executable; this part
 * is what each process really owns.
 */
export function anonKib(root: number): number {
  return statusKib(root, 'RssAnon');
}

function statusKib(root: number, field: string): number {
  const re = new RegExp(`${field}:\\s+(\\d+)`);
  let kib = 0;
  for (const pid of treePids(root)) {
    try {
      const m = re.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      /* exited */
    }
  }
  return kib;
}

/** Busy and total jiffies per CPU from /proc/stat, to tell which core limited a measurement. */
export function cpuSnap(): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (!/^cpu\d+$/.test(f[0]!)) continue;
    const n = f.slice(1, 9).map(Number);
    const idle = n[3]! + n[4]!;
    const total = n.reduce((a, b) => a + b, 0);
    m.set(f[0]!, [total - idle, total]);
  }
  return m;
}
export function busyPct(a: Map<string, [number, number]>, b: Map<string, [number, number]>, cpu: number): number {
  const x = a.get(`cpu${cpu}`), y = b.get(`cpu${cpu}`);
  if (!x || !y || y[1] === x[1]) return 0;
  return Math.round((100 * (y[0] - x[0])) / (y[1] - x[1]));
}

/** Resolve once 127.0.0.1:port accepts a TCP connection; false after timeoutMs. */
export async function waitTcp(port: number, timeoutMs = 10_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return true;
    await sleep(50);
  }
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Run a command pinned to `cpu`, bounded by timeoutMs; resolves with its stdout. */
export function runPinned(cpu: number, cmd: string[], timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', String(cpu), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
