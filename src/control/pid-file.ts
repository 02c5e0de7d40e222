// How `weir reload` and `weir upgrade` find the running weir and learn how their request went: `weir.pid` beside
// the database (written at start, removed at exit; systemd's PIDFile= reads it too), and one small JSON status
// file per request kind, rewritten by the running weir after each reload or upgrade.

import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PID_FILE = 'weir.pid';

/** `<directory of the database>/weir.pid`. */
export function pidFilePath(dbPath: string): string {
  return join(dirname(dbPath), PID_FILE);
}

/** Write `pid` atomically (a reader never sees half a number). */
export function writePidFile(path: string, pid: number): void {
  const tmp = `${path}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`);
  renameSync(tmp, path);
}

/** The pid in the file, or null when there is none (or it is not a pid). */
export function readPidFile(path: string): number | null {
  if (!existsSync(path)) return null;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Remove the file if it still names `pid` (after an upgrade it names the new process: leave it). */
export function removePidFile(path: string, pid: number): void {
  if (readPidFile(path) === pid) rmSync(path, { force: true });
}

export type StatusKind = 'reload' | 'upgrade';

/** What the running weir reports after a request: which process, which request (count since start), and how it went. */
export interface Status {
  pid: number;
  /** Requests of this kind the process has finished, 1 for the first. */
  count: number;
  ok: boolean;
  errors: string[];
  /** Reload: what changed live, what kept its old value. Upgrade: the new process. */
  live?: string[];
  kept?: string[];
  newPid?: number;
}

export function statusPath(dbPath: string, kind: StatusKind): string {
  return join(dirname(dbPath), `weir.${kind}.json`);
}

export function writeStatus(dbPath: string, kind: StatusKind, status: Status): void {
  const path = statusPath(dbPath, kind);
  const tmp = `${path}.${status.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status)}\n`);
  renameSync(tmp, path);
}

export function readStatus(dbPath: string, kind: StatusKind): Status | null {
  try {
    return JSON.parse(readFileSync(statusPath(dbPath, kind), 'utf8')) as Status;
  } catch {
    return null;
  }
}
