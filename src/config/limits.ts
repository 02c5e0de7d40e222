// Connection caps in config.yaml: apisix.stream_proxy.max_connections (the process) and max_connections on a
// listener item (TCP: open connections; UDP: sessions). weir's own keys (APISIX leaves this to nginx's
// worker_connections). Runs once at start and on each reload.

import { ConfigError } from './types';
import { describeValue } from './read';

/** The largest cap accepted: far above any fd limit, so a typo like 1e12 is reported, not obeyed. */
export const MAX_CAP = 10_000_000;

/** Read one max_connections value: absent = undefined, else a positive integer. */
export function readMaxConnections(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_CAP) {
    throw new ConfigError(path, `expected a whole number of connections from 1 to ${MAX_CAP}, got ${describeValue(value)}`);
  }
  return value;
}
