// nginx_config.stream UDP session settings: the session table bound and nginx's proxy_responses.
// Runs once at start (pure); the listener addresses themselves are read by listen.ts.

import { ConfigError, type UdpSettings } from './types';
import { describeValue, type YamlMap } from './read';

/** Default bound of the UDP session table: each session holds one socket (a file descriptor). */
export const DEFAULT_UDP_MAX_SESSIONS = 10_000;
/** More sessions than this would need more descriptors than a process usually gets. */
const MAX_UDP_MAX_SESSIONS = 1_000_000;

function readCount(value: unknown, path: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(path, `expected an integer ${min}..${max}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * `udp_max_sessions` (weir's key, default 10000) and `proxy_responses` (nginx's directive: replies
 * expected per client datagram; absent = unlimited, the session then ends on idle only).
 * The caller has already checked the keys of the mapping.
 */
export function readUdpSettings(stream: YamlMap): UdpSettings {
  const base = 'nginx_config.stream';
  return {
    maxSessions:
      readCount(stream.udp_max_sessions, `${base}.udp_max_sessions`, 1, MAX_UDP_MAX_SESSIONS) ?? DEFAULT_UDP_MAX_SESSIONS,
    responses: readCount(stream.proxy_responses, `${base}.proxy_responses`, 0, 2 ** 31 - 1) ?? null,
  };
}
