// The process's open-file limit (RLIMIT_NOFILE) and the connection caps weir derives from it.
// Runs once at start. Neither Node, Bun nor Deno exposes getrlimit(2), so on Linux the soft limit is read from
// /proc/self/limits ("Max open files"); elsewhere, or when that file cannot be read, 1024 is assumed (the
// usual default soft limit), which errs towards a low cap rather than towards running out of fds.

import { readFileSync } from 'node:fs';

/** File descriptors kept back from the proxy for the Admin API, SQLite (db, WAL, shm), logs and health probes. */
export const FD_RESERVE = 64;

/** The limit assumed when it cannot be read. */
export const ASSUMED_FD_LIMIT = 1024;

export interface FdLimit {
  /** The soft limit: opening more fds than this fails with EMFILE. */
  soft: number;
  /** Where the figure comes from: "/proc/self/limits" or "assumed". */
  source: string;
}

/** Parse the "Max open files" line of /proc/self/limits; null when absent. "unlimited" reads as 2^31-1. */
export function parseProcLimits(text: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return null;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return 2 ** 31 - 1;
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** Read the soft RLIMIT_NOFILE of this process. */
export function readFdLimit(procLimitsPath = '/proc/self/limits'): FdLimit {
  try {
    const soft = parseProcLimits(readFileSync(procLimitsPath, 'utf8'));
    if (soft !== null) return { soft, source: procLimitsPath };
  } catch {
    // not Linux, or /proc not mounted
  }
  return { soft: ASSUMED_FD_LIMIT, source: 'assumed' };
}

/**
 * The default of apisix.stream_proxy.max_connections: below half the fd limit (Envoy's advice for
 * global_downstream_max_connections), because each proxied TCP connection holds two fds (client and
 * upstream), and FD_RESERVE fds stay free for the Admin API and the store. At least 1.
 */
export function defaultMaxConnections(softLimit: number): number {
  return Math.max(1, Math.floor((softLimit - FD_RESERVE) / 2));
}

/** The host cap in force: the configured one, else the default from the fd limit (with the facts for the start line). */
export function resolveMaxConnections(configured: number | undefined, limit: FdLimit = readFdLimit()): { max: number; fdLimit: number; from: string } {
  if (configured !== undefined) return { max: configured, fdLimit: limit.soft, from: 'apisix.stream_proxy.max_connections' };
  return { max: defaultMaxConnections(limit.soft), fdLimit: limit.soft, from: `fd limit (${limit.source})` };
}
