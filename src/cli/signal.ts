// `weir reload` and `weir upgrade`: find the running weir through `weir.pid` beside the database the config
// names, send it SIGHUP or SIGUSR2, and wait (bounded) for the status file it writes when done.

import type { Command } from './args';
import { CliError, loadCliConfig, resolveDbPath, type CliIo } from './context';
import { pidFilePath, readPidFile, readStatus, type Status, type StatusKind } from '../control/pid-file';

type SignalCommand = Extract<Command, { name: 'reload' | 'upgrade' }>;

const SIGNAL: Record<StatusKind, NodeJS.Signals> = { reload: 'SIGHUP', upgrade: 'SIGUSR2' };
/** An upgrade waits for the new process to serve (its own limit is 60 s); a reload binds listeners at most. */
const WAIT_MS: Record<StatusKind, number> = { reload: 15_000, upgrade: 75_000 };
const POLL_MS = 50;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Signal the running weir and report its answer. reload: exit 0 when applied, 2 with each error when refused
 * (the old config serves on). upgrade: exit 0 once the new process serves, 1 when it failed (the old one serves on).
 */
export async function runSignalCommand(cmd: SignalCommand, io: CliIo, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<number> {
  const kind: StatusKind = cmd.name;
  const config = loadCliConfig(cmd, io); // a config that does not load is refused here, before any signal
  const dbPath = resolveDbPath(cmd, config);
  const pidFile = pidFilePath(dbPath);
  const pid = readPidFile(pidFile);
  if (pid === null) throw new CliError(1, `${kind}: no running weir found: ${pidFile} does not exist (is weir running with this config?)`);
  if (!running(pid)) throw new CliError(1, `${kind}: ${pidFile} names pid ${pid}, which is not running`);
  const before = readStatus(dbPath, kind);
  const seen = before !== null && before.pid === pid ? before.count : 0;
  process.kill(pid, SIGNAL[kind]);
  let status: Status | null = null;
  for (const until = Date.now() + WAIT_MS[kind]; Date.now() < until; await sleep(POLL_MS)) {
    const s = readStatus(dbPath, kind);
    if (s !== null && s.pid === pid && s.count > seen) {
      status = s;
      break;
    }
    if (!running(pid)) break;
  }
  if (status === null) throw new CliError(1, `${kind}: pid ${pid} did not report within ${WAIT_MS[kind] / 1000} s (see its log)`);
  if (kind === 'reload') {
    if (!status.ok) {
      for (const e of status.errors) io.err(`weir: reload: ${e}\n`);
      io.err(`weir: reload refused: pid ${pid} keeps serving its old config\n`);
      return 2;
    }
    io.out(`reloaded pid ${pid}: ${status.live?.length ? `changed ${status.live.join(', ')}` : 'nothing changed'}\n`);
    for (const k of status.kept ?? []) io.out(`not changed live: ${k}\n`);
    return 0;
  }
  if (!status.ok) {
    io.err(`weir: upgrade failed: ${status.errors.join('; ')}; pid ${pid} keeps serving\n`);
    return 1;
  }
  io.out(`upgraded: pid ${status.newPid} serves now; pid ${pid} drains its open connections and exits\n`);
  return 0;
}
