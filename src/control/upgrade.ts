// Binary upgrade (`weir upgrade`, SIGUSR2): the running weir starts the executable again (the new binary once
// it replaced the file) and passes its listening sockets on as inherited file descriptors, as nginx and HAProxy
// do. Both processes then accept from the SAME kernel queues, so no connection is refused or reset while they
// change over; the old one stops accepting only once the new one serves, then drains its open connections
// and exits. If the new one fails to start, the old one never stopped serving.
//
//   old                                   new (child, IPC channel + fds 4..)
//   spawn  ------------------------------> start: listeners on the inherited fds, store, snapshot
//          <----------------------------- {weir: 'listening'}   (wants the Admin API's port)
//   close Admin API; {weir: 'admin-free'} -> bind the Admin API, write weir.pid
//          <----------------------------- {weir: 'started'}
//   stop accepting, drain, exit
//
// The Admin API's port cannot be shared this way (Bun.serve takes no descriptor), so it is closed by the old
// process and bound by the new one: admin requests in those few milliseconds are refused, proxied ones are not.
// Sockets of other workers (worker_processes > 1) are per process (SO_REUSEPORT): the new workers bind their
// own and the old workers close theirs, which drops what is still in those queues unless the kernel moves it
// (net.ipv4.tcp_migrate_req = 1); see README "Changing weir without a restart".

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { logger } from '../log/logger';
import type { InheritedFd } from '../proxy/listener/tcp';

/** Set in the new process's environment: its inherited sockets, `[{proto, host, port, fd}]` as JSON. */
export const UPGRADE_ENV = 'WEIR_UPGRADE_FDS';

/** How long the old process waits for the new one to serve. */
export const UPGRADE_TIMEOUT_MS = 60_000;
/** How long the new process waits for the Admin API's port. */
const ADMIN_FREE_TIMEOUT_MS = 10_000;

type UpgradeMessage = { weir: 'listening' } | { weir: 'admin-free' } | { weir: 'started'; pid: number };

/** A listening socket of the old process. */
export interface PassedSocket {
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  fd: number;
}

export interface UpgradeOutcome {
  ok: boolean;
  error?: string;
  newPid?: number;
}

export interface UpgradeDeps {
  /** The command line to run: this program again (workers.ts selfCommand). */
  command: { file: string; args: string[] };
  /** Listening sockets to pass on (those whose descriptor the runtime tells). */
  sockets: PassedSocket[];
  /** Close the Admin API's listener (the new process binds it). */
  releaseAdmin(): Promise<void>;
  /** Bind the Admin API again: the new process failed after the port was released. */
  restoreAdmin(): Promise<void>;
}

/**
 * Old side. Resolves once the new process serves (ok: the caller now stops accepting and drains), or when it
 * failed to start (not ok: the caller keeps serving; the new process was stopped). Never rejects.
 */
export function startUpgrade(deps: UpgradeDeps): Promise<UpgradeOutcome> {
  const passed = deps.sockets.map((s, i) => ({ ...s, fd: 4 + i }));
  const env: NodeJS.ProcessEnv = { ...process.env, [UPGRADE_ENV]: JSON.stringify(passed) };
  delete env.WEIR_WORKER; // the new process is worker 0 of its own generation
  let child: ChildProcess;
  try {
    child = spawn(deps.command.file, deps.command.args, {
      // stdin closed, same stdout/stderr (the new weir logs where the old one did), IPC, then the sockets
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...deps.sockets.map((s) => s.fd)],
      detached: true,
      env,
    });
  } catch (err) {
    return Promise.resolve({ ok: false, error: `cannot start ${deps.command.file}: ${(err as Error).message}` });
  }
  return new Promise((resolve) => {
    let released = false;
    let settled = false;
    const finish = async (outcome: UpgradeOutcome): Promise<void> => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (!outcome.ok) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (released) await deps.restoreAdmin().catch((err: Error) => logger.error('upgrade: cannot bind the Admin API again', { error: err.message }));
      } else {
        child.disconnect?.();
        child.unref();
      }
      resolve(outcome);
    };
    const timer = setTimeout(() => void finish({ ok: false, error: `the new process did not serve within ${UPGRADE_TIMEOUT_MS / 1000} s` }), UPGRADE_TIMEOUT_MS);
    const onMessage = (msg: UpgradeMessage): void => {
      if (msg?.weir === 'listening') {
        released = true;
        deps.releaseAdmin().then(
          () => child.send({ weir: 'admin-free' } satisfies UpgradeMessage),
          (err: Error) => void finish({ ok: false, error: `cannot release the Admin API: ${err.message}` }),
        );
      } else if (msg?.weir === 'started') {
        void finish({ ok: true, newPid: msg.pid });
      }
    };
    child.on('message', onMessage);
    child.on('error', (err) => void finish({ ok: false, error: `cannot start ${deps.command.file}: ${err.message}` }));
    child.on('exit', (code, signal) => {
      void finish({ ok: false, error: `the new process exited (${signal ?? `code ${code}`}) before it served; its log lines say why` });
    });
  });
}

/** New side: what startWeir does differently when it was started by an upgrade. */
export interface Handover {
  /** The inherited socket for an address, once (later binds of it bind afresh). */
  inherited: InheritedFd;
  /** Before binding the Admin API: ask the old process to release its port, and wait for it. */
  adminFree(): Promise<void>;
  /** Serving: the old process may stop accepting now. Inherited sockets nobody took are closed. */
  started(): void;
}

/** The handover of an upgrade, when this process was started by one (UPGRADE_ENV and an IPC channel), else null. */
export function handoverFromEnv(env: Record<string, string | undefined>): Handover | null {
  const text = env[UPGRADE_ENV];
  if (text === undefined || process.send === undefined) return null;
  delete process.env[UPGRADE_ENV]; // not for this process's own workers
  let sockets: PassedSocket[];
  try {
    sockets = JSON.parse(text) as PassedSocket[];
  } catch {
    return null;
  }
  const left = new Map(sockets.map((s) => [`${s.proto}|${s.host}|${s.port}`, s.fd]));
  const send = (msg: UpgradeMessage): void => void process.send?.(msg);
  return {
    inherited(proto, host, port) {
      const key = `${proto}|${host}|${port}`;
      const fd = left.get(key);
      left.delete(key);
      return fd;
    },
    adminFree() {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ADMIN_FREE_TIMEOUT_MS);
        function done(): void {
          clearTimeout(timer);
          process.off('message', onMessage);
          resolve();
        }
        const onMessage = (msg: UpgradeMessage): void => {
          if (msg?.weir === 'admin-free') done();
        };
        process.on('message', onMessage);
        send({ weir: 'listening' });
      });
    },
    started() {
      for (const fd of left.values()) {
        try {
          closeSync(fd); // a listener the new config no longer has
        } catch {
          // already closed
        }
      }
      left.clear();
      send({ weir: 'started', pid: process.pid });
      // the old process is about to drain and exit: nothing more to say to it
      setTimeout(() => process.disconnect?.(), 100).unref();
    },
  };
}
