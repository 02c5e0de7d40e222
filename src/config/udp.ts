// nginx_config.stream UDP session settings: the session table bound, nginx's proxy_responses, the limits on new
// sessions (per source address, rate) and the listeners' receive buffer. Runs once at start (pure); the listener
// addresses themselves are read by listen.ts.

import { DEFAULT_UDP_ADMISSION } from '../proxy/session/udp-admission';
import { ConfigError, type UdpSettings } from './types';
import { describeValue, type YamlMap } from './read';

/** Default bound of the UDP session table: each session holds one socket (a file descriptor). */
export const DEFAULT_UDP_MAX_SESSIONS = 10_000;
/** More sessions than this would need more descriptors than a process usually gets. */
const MAX_UDP_MAX_SESSIONS = 1_000_000;
/** SO_RCVBUF asked for on UDP listeners; Linux grants at most net.core.rmem_max (weir warns when it is less). */
export const DEFAULT_UDP_RCVBUF = 4 * 1024 * 1024;
const MIN_UDP_RCVBUF = 64 * 1024;
const MAX_UDP_RCVBUF = 1024 * 1024 * 1024;
const MAX_RATE = 10_000_000;

function readCount(value: unknown, path: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(path, `expected an integer ${min}..${max}, got ${describeValue(value)}`);
  }
  return value;
}

const SIZE = /^(\d+)([kKmMgG]?)$/;
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

/** An nginx size ("512k", "8m", or bytes) within min..max. */
function readSize(value: unknown, path: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const m = typeof value === 'number' ? [String(value), String(value), ''] : typeof value === 'string' ? SIZE.exec(value.trim()) : null;
  const bytes = m === null || !/^\d+$/.test(m[1]!) ? NaN : Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!(bytes >= min && bytes <= max)) {
    throw new ConfigError(path, `expected a size from 64k to 1g, like "4m" or "512k" (or bytes), got ${describeValue(value)}`);
  }
  return bytes;
}

/**
 * `udp_max_sessions` (weir's key, default 10000) and `proxy_responses` (nginx's directive: replies expected per
 * client datagram; absent = unlimited, the session then ends on idle only); weir's flood limits
 * `udp_max_sessions_per_source` (default 1000), `udp_session_rate` (new sessions per second, default 5000) and
 * `udp_session_burst` (default: a fifth of the rate), each 0 = off; `udp_rcvbuf` (nginx's listen rcvbuf=, default 4m).
 * The caller has already checked the keys of the mapping.
 */
export function readUdpSettings(stream: YamlMap): UdpSettings {
  const base = 'nginx_config.stream';
  const rate = readCount(stream.udp_session_rate, `${base}.udp_session_rate`, 0, MAX_RATE) ?? DEFAULT_UDP_ADMISSION.rate;
  return {
    maxSessions:
      readCount(stream.udp_max_sessions, `${base}.udp_max_sessions`, 1, MAX_UDP_MAX_SESSIONS) ?? DEFAULT_UDP_MAX_SESSIONS,
    responses: readCount(stream.proxy_responses, `${base}.proxy_responses`, 0, 2 ** 31 - 1) ?? null,
    admission: {
      maxPerSource:
        readCount(stream.udp_max_sessions_per_source, `${base}.udp_max_sessions_per_source`, 0, MAX_UDP_MAX_SESSIONS) ?? DEFAULT_UDP_ADMISSION.maxPerSource,
      rate,
      // a fifth of a second's worth unless set: a burst of new clients (a resolver restarting) gets through at once
      burst: readCount(stream.udp_session_burst, `${base}.udp_session_burst`, 0, MAX_RATE) ?? Math.ceil(rate / 5),
    },
    rcvbuf: readSize(stream.udp_rcvbuf, `${base}.udp_rcvbuf`, MIN_UDP_RCVBUF, MAX_UDP_RCVBUF) ?? DEFAULT_UDP_RCVBUF,
  };
}
