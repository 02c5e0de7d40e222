// nginx_config.worker_processes (APISIX's key): how many proxy processes share the listeners.

import { ConfigError } from './types';

/** Upper bound: more workers than this is a typo, not a machine (each worker holds its own snapshot). */
const MAX_WORKERS = 256;

/** A positive integer or "auto" (one per core, resolved at start). Absent = 1, as weir ran before multi-core. */
export function readWorkerProcesses(value: unknown, path: string): number | 'auto' {
  if (value === undefined || value === null) return 1;
  if (value === 'auto') return 'auto';
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new ConfigError(path, `${JSON.stringify(value)} is not "auto" or a whole number from 1 to ${MAX_WORKERS}`);
  }
  return n;
}
