// Multi-core: nginx_config.worker_processes > 1 runs that many weir processes on the same listeners (SO_REUSEPORT,
// the kernel spreads connections and UDP flows). The first process is worker 0: it serves the Admin API and
// starts the others; every worker notices store changes by itself (the store watcher polls within 1 s).
// Listeners and config reloads go from worker 0 to the others over an IPC channel (see WorkerMessage), so an
// Admin API write that binds a listener answers once every worker has bound it.

import type * as NodeChildProcess from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/types';
import type { ListenerLists } from '../control/listener-specs';
import type { ApplyFailure, ListenerTarget } from '../control/listener-sync';
import { logger } from '../log/logger';
import { detectRuntime } from '../runtime/index';
import { askEachWorker, askWorkers, type WorkerReply as WorkerAnswer } from './worker-ipc';
import { UPGRADE_ENV } from '../control/upgrade';
import { nodeBuiltin } from '../runtime/builtin';

/** Worker 0 -> worker: bind these listeners / apply this reloaded config. Each is answered by one WorkerReply. */
export type WorkerRequest = { weir: 'listeners'; lists: ListenerLists; mustBind: string[] } | { weir: 'config'; config: Config };
export type WorkerMessage = WorkerRequest & { seq: number };

/** Worker -> worker 0: `ready` once it serves (and listens for messages), `ack` per message. */
export type WorkerReply = { weir: 'ready' } | { weir: 'ack'; seq: number; failures?: ApplyFailure[]; error?: string };

/** How long worker 0 waits for a worker's answer before naming it in an error. */
export const WORKER_ANSWER_MS = 5000;

/** Set in the environment of workers 1..N-1; worker 0 (the process the user started) has none. */
export const WORKER_ENV = 'WEIR_WORKER';
/** Restarts of one worker within RESTART_WINDOW_MS before it is given up (a crash loop must not spin). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export interface Workers {
  /** Processes serving the listeners, this one included. */
  readonly count: number;
  /** The other workers that serve now, as listener targets (none in an extra worker). */
  targets(): ListenerTarget[];
  /** Hand a reloaded config to every other worker; resolves with one error text per worker that failed. */
  reload(config: Config): Promise<string[]>;
  /** Stop the other workers: SIGTERM (they drain for graceMs), SIGKILL after graceMs + 2 s. */
  stop(graceMs: number): Promise<void>;
  /**
   * Ask the other workers a question over their IPC channel (src/cli/worker-ipc.ts); the answers that came
   * within timeoutMs. Empty without workers.
   */
  ask(kind: string, timeoutMs: number): Promise<unknown[]>;
  /**
   * Ask each other worker (only those whose pid is in `pids`, when given) with `args`; one reply per worker
   * asked, in worker order, each either its answer or `answered: false` after timeoutMs. Empty without workers.
   */
  askEach(kind: string, args: unknown, timeoutMs: number, pids?: readonly number[]): Promise<NumberedReply[]>;
}

/** A worker's reply with the worker's number (1..count-1; worker 0 is the asking process). */
export type NumberedReply = WorkerAnswer & { worker: number };

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
 * Every worker binds the UDP listeners too (SO_REUSEPORT; the kernel keeps a client's datagrams on the socket
 * that got its first one, so a session stays with one worker): Bun.udpSocket takes the flag through the socket
 * flags Bun's node:dgram uses (src/runtime/udp/bun.ts). Before that, UDP stayed with worker 0.
 */
export const UDP_SHARES_PORTS = true;

/** The UDP listeners this process binds: all of them (see UDP_SHARES_PORTS). */
export function udpListenersOf<T>(listeners: T[], extraWorker: boolean): T[] {
  return extraWorker && !UDP_SHARES_PORTS ? [] : listeners;
}

/** One worker's IPC: requests in flight by sequence number, answered or timed out. */
class WorkerLink {
  private seq = 0;
  private readonly pending = new Map<number, { done: (r: WorkerReply & { weir: 'ack' }) => void; fail: (e: Error) => void }>();
  ready = false;

  constructor(
    readonly id: number,
    readonly child: ChildProcess,
  ) {}

  get name(): string {
    return `worker ${this.id} (pid ${this.child.pid})`;
  }

  /** Send one message; resolves with its ack, rejects after WORKER_ANSWER_MS or when the worker exits. */
  request(msg: WorkerRequest): Promise<WorkerReply & { weir: 'ack' }> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${this.name} did not answer within ${WORKER_ANSWER_MS / 1000} s`));
      }, WORKER_ANSWER_MS);
      this.pending.set(seq, {
        done: (r) => (clearTimeout(timer), resolve(r)),
        fail: (e) => (clearTimeout(timer), reject(e)),
      });
      try {
        this.child.send({ ...msg, seq } as WorkerMessage);
      } catch (err) {
        this.pending.get(seq)?.fail(new Error(`${this.name}: ${(err as Error).message}`));
        this.pending.delete(seq);
      }
    });
  }

  answered(reply: WorkerReply): void {
    if (reply.weir !== 'ack') return;
    const p = this.pending.get(reply.seq);
    this.pending.delete(reply.seq);
    p?.done(reply);
  }

  gone(): void {
    for (const p of this.pending.values()) p.fail(new Error(`${this.name} exited`));
    this.pending.clear();
  }

  target(): ListenerTarget {
    return {
      name: this.name,
      apply: async (lists, mustBind) => {
        const reply = await this.request({ weir: 'listeners', lists, mustBind: [...mustBind] });
        if (reply.error !== undefined) throw new Error(reply.error);
        return reply.failures ?? [];
      },
    };
  }
}

/**
 * The command line that starts this same program again. A `bun build --compile` binary reports its
 * embedded entry (/$bunfs/...) as argv[1]; the binary itself is execPath and takes the arguments directly.
 */
export function selfCommand(): { file: string; args: string[] } {
  const entry = process.argv[1] ?? '';
  const compiled = entry.startsWith('/$bunfs/') || entry.startsWith('B:/~BUN/');
  return { file: process.execPath, args: [...process.execArgv, ...process.argv.slice(compiled ? 2 : 1)] };
}

/** What worker 0 hears of its workers: each child as started (restarts too), and each worker once it serves. */
export interface WorkerHooks {
  onChild?: (child: ChildProcess) => void;
  onReady?: (name: string) => void;
}

/**
 * Start workers 1..count-1 with this process's command line; restart one that dies, within limits. Each has an
 * IPC channel to this process, always: it carries limit-conn's counts (`onChild` sees every child started,
 * restarts too, to serve them), the metrics export's questions (ask()), and worker 0's listener and reload
 * messages. `onReady` runs when a worker serves and takes messages (worker 0 then hands it the current listeners).
 */
export function startWorkers(count: number, hooks: WorkerHooks = {}): Workers {
  const { onChild, onReady = () => {} } = hooks;
  const children = new Map<number, ChildProcess>();
  const links = new Map<number, WorkerLink>();
  let stopping = false;
  const restarts: number[][] = [];
  const launch = (id: number): void => {
    const { file, args } = selfCommand();
    // detached: a Ctrl-C on the terminal reaches worker 0 only, which then stops the others once (a second
    // signal would make them exit without their grace period); an orphaned worker notices by itself (watchPrimary)
    const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: String(id) };
    for (const name of INHERITED_ONLY_ENV) delete env[name];
    // node:child_process is loaded only here: a single-process weir never holds it
    const { spawn } = nodeBuiltin<typeof NodeChildProcess>('node:child_process');
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true, env });
    children.set(id, child);
    onChild?.(child);
    const link = new WorkerLink(id, child);
    links.set(id, link);
    child.on('message', (reply: WorkerReply) => {
      if (reply?.weir === 'ready') {
        link.ready = true;
        onReady(link.name);
      } else if (reply?.weir === 'ack') link.answered(reply);
    });
    child.on('error', (err) => logger.error('worker could not start', { worker: id, error: err.message }));
    child.on('exit', (code, signal) => {
      children.delete(id);
      if (links.get(id) === link) links.delete(id);
      link.gone();
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
  const ready = (): WorkerLink[] => [...links.values()].filter((l) => l.ready);
  return {
    count,
    targets: () => ready().map((l) => l.target()),
    async reload(config) {
      const replies = await Promise.allSettled(ready().map((l) => l.request({ weir: 'config', config })));
      return replies.flatMap((r, i) => {
        if (r.status === 'rejected') return [(r.reason as Error).message];
        return r.value.error === undefined ? [] : [`${ready()[i]?.name ?? 'a worker'}: ${r.value.error}`];
      });
    },
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
    async askEach(kind, args, timeoutMs, pids) {
      const asked = [...children.entries()]
        .sort(([a], [b]) => a - b)
        .filter(([, c]) => pids === undefined || (c.pid !== undefined && pids.includes(c.pid)));
      const replies = await askEachWorker(asked.map(([, c]) => c), kind, timeoutMs, args);
      return replies.map((r, i) => ({ ...r, worker: asked[i]![0] }));
    },
  };
}

/** What an extra worker does with worker 0's messages (wired in start.ts). */
export interface WorkerHandlers {
  listeners(lists: ListenerLists, mustBind: string[]): Promise<ApplyFailure[]>;
  /** Apply a reloaded config (everything but listeners, which come as `listeners` messages). */
  config(config: Config): Promise<void> | void;
}

/**
 * In an extra worker: answer worker 0's messages, say `ready`, and exit when worker 0 is gone (killed without
 * stopping us) instead of serving alone forever: the IPC channel closes, and the parent pid is polled too.
 */
export function watchPrimary(onOrphaned: () => void, handlers?: WorkerHandlers): Workers {
  const parent = process.ppid;
  let orphaned = false;
  const orphan = (): void => {
    if (orphaned) return;
    orphaned = true;
    clearInterval(timer);
    onOrphaned();
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent) orphan();
  }, 1000);
  timer.unref();
  const send = (reply: WorkerReply): void => {
    try {
      process.send?.(reply);
    } catch {
      // worker 0 is gone: the orphan check ends this process
    }
  };
  const onMessage = (msg: WorkerMessage): void => {
    if (handlers === undefined || typeof msg !== 'object' || msg === null) return;
    const run = msg.weir === 'listeners' ? handlers.listeners(msg.lists, msg.mustBind) : msg.weir === 'config' ? Promise.resolve(handlers.config(msg.config)).then(() => []) : null;
    if (run === null) return;
    run.then(
      (failures) => send({ weir: 'ack', seq: msg.seq, failures }),
      (err: unknown) => send({ weir: 'ack', seq: msg.seq, error: (err as Error).message }),
    );
  };
  if (process.send !== undefined) {
    process.on('message', onMessage);
    process.on('disconnect', orphan);
    // the channel must not keep a stopping worker alive
    (process as unknown as { channel?: { unref?(): void } }).channel?.unref?.();
    send({ weir: 'ready' });
  }
  return {
    count: 1,
    targets: () => [],
    reload: () => Promise.resolve([]),
    stop() {
      clearInterval(timer);
      process.off('message', onMessage);
      process.off('disconnect', orphan);
      return Promise.resolve();
    },
    ask() {
      return Promise.resolve([]);
    },
    askEach() {
      return Promise.resolve([]);
    },
  };
}

/** Environment variables meant for one process only (a binary upgrade's handover): workers must not see them. */
export const INHERITED_ONLY_ENV: readonly string[] = [UPGRADE_ENV];
