// Multi-core: nginx_config.worker_processes > 1 runs that many weir processes on the same listeners (SO_REUSEPORT,
// the kernel spreads connections and UDP flows). The first process is worker 0: it serves the Admin API and
// starts the others; every worker notices store changes by itself (the store watcher polls within 1 s).

import type * as NodeChildProcess from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { logger } from '../log/logger';
import { detectRuntime } from '../runtime/index';
import { nodeBuiltin } from '../runtime/builtin';
import { askWorkers } from './worker-ipc';

/** Set in the environment of workers 1..N-1; worker 0 (the process the user started) has none. */
export const WORKER_ENV = 'WEIR_WORKER';
/** Restarts of one worker within RESTART_WINDOW_MS before it is given up (a crash loop must not spin). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export interface Workers {
  /** Processes serving the listeners, this one included. */
  readonly count: number;
  /** Stop the other workers: SIGTERM (they drain for graceMs), SIGKILL after graceMs + 2 s. */
  stop(graceMs: number): Promise<void>;
  /**
   * Ask the other workers a question over their IPC channel (src/cli/worker-ipc.ts); the answers that came
   * within timeoutMs. Empty without workers.
   */
  ask(kind: string, timeoutMs: number): Promise<unknown[]>;
}

/** Is this process one of the extra workers (no Admin API, no workers of its own)? */
export function isExtraWorker(env: Record<string, string | undefined> = process.env): boolean {
  return env[WORKER_ENV] !== undefined;
}

/**
 * How many processes to run. Sharing a TCP port needs SO_REUSEPORT, which weir's Bun data plane sets
 * (Bun.listen reusePort); node:net on Node 20 cannot, so other runtimes run one.
 */
export function resolveWorkerCount(
  setting: number | 'auto' | undefined,
  cpus = availableParallelism(),
  env: Record<string, string | undefined> = process.env,
): number {
  const wanted = setting === 'auto' ? cpus : (setting ?? 1);
  // WEIR_DATA_PLANE=node puts Bun on its node:net layer, which has no reusePort either: every extra worker
  // would fail to bind and be restarted in a loop
  if (wanted > 1 && (detectRuntime() !== 'bun' || env.WEIR_DATA_PLANE === 'node')) {
    logger.warn('nginx_config.worker_processes > 1 needs the Bun build (SO_REUSEPORT listeners); running 1 worker', { wanted });
    return 1;
  }
  return Math.max(1, wanted);
}

/**
 * Bun.udpSocket (Bun 1.4) ignores reusePort: a second process binding the same UDP address gets EADDRINUSE.
 * So UDP listeners stay with worker 0 alone and only TCP is spread; flip this when Bun.udpSocket shares ports.
 */
export const UDP_SHARES_PORTS = false;

/** The UDP listeners this process binds: all of them in worker 0, none in an extra worker (see UDP_SHARES_PORTS). */
export function udpListenersOf<T>(listeners: T[], extraWorker: boolean): T[] {
  return extraWorker && !UDP_SHARES_PORTS ? [] : listeners;
}

/**
 * The command line that starts this same program again. A `bun build --compile` binary reports its
 * embedded entry (/$bunfs/...) as argv[1]; the binary itself is execPath and takes the arguments directly.
 */
function selfCommand(): { file: string; args: string[] } {
  const entry = process.argv[1] ?? '';
  const compiled = entry.startsWith('/$bunfs/') || entry.startsWith('B:/~BUN/');
  return { file: process.execPath, args: [...process.execArgv, ...process.argv.slice(compiled ? 2 : 1)] };
}

/**
 * Start workers 1..count-1 with this process's command line; restart one that dies, within limits. Each has an
 * IPC channel to this process, always: it carries limit-conn's counts (`onChild` sees every child started,
 * restarts too, to serve them) and the metrics export's questions (ask()).
 */
export function startWorkers(count: number, onChild?: (child: ChildProcess) => void): Workers {
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  const restarts: number[][] = [];
  const launch = (id: number): void => {
    const { file, args } = selfCommand();
    // detached: a Ctrl-C on the terminal reaches worker 0 only, which then stops the others once (a second
    // signal would make them exit without their grace period); an orphaned worker notices by itself (watchPrimary)
    // node:child_process is loaded only here: a single-process weir never holds it
    const { spawn } = nodeBuiltin<typeof NodeChildProcess>('node:child_process');
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true, env: { ...process.env, [WORKER_ENV]: String(id) } });
    children.set(id, child);
    onChild?.(child);
    child.on('error', (err) => logger.error('worker could not start', { worker: id, error: err.message }));
    child.on('exit', (code, signal) => {
      children.delete(id);
      if (stopping) return;
      const now = Date.now();
      const recent = (restarts[id] ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
      restarts[id] = recent;
      if (recent.length >= MAX_RESTARTS) {
        logger.error('worker keeps exiting; not restarted', { worker: id, code, signal });
        return;
      }
      recent.push(now);
      logger.warn('worker exited; restarting it', { worker: id, code, signal });
      setTimeout(() => {
        if (stopping) return;
        launch(id);
        // the pid list of 'workers started' is stale now: operators (and tests) find the new one here
        logger.info('worker restarted', { worker: id, pid: children.get(id)?.pid });
      }, 1000).unref();
    });
  };
  for (let id = 1; id < count; id++) launch(id);
  if (count > 1) logger.info('workers started', { workers: count, pids: [...children.values()].map((c) => c.pid).join(','), udp: UDP_SHARES_PORTS ? 'shared' : 'worker 0' });
  return {
    count,
    async stop(graceMs) {
      stopping = true;
      const exits = [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), graceMs + 2000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
    },
    ask(kind, timeoutMs) {
      return askWorkers([...children.values()], kind, timeoutMs);
    },
  };
}

/** In an extra worker: exit when worker 0 is gone (killed without stopping us), instead of serving alone forever. */
export function watchPrimary(onOrphaned: () => void): Workers {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, 1000);
  timer.unref();
  return {
    count: 1,
    stop() {
      clearInterval(timer);
      return Promise.resolve();
    },
    ask() {
      return Promise.resolve([]);
    },
  };
}
