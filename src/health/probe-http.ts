// The HTTP side of an active probe, pure: the request lua-resty-healthcheck sends (HTTP/1.1, Connection: close,
// the configured headers, Host last), the status line of the answer, and what its status counts as.

import { parseIp } from '../lib/ip';
import type { ActiveCheckConfig, ProbeOutcome } from './types';
import type { UpstreamNode } from '../snapshot/types';

/** At most this much of an answer is read looking for the status line; more without one is a bad answer. */
export const MAX_STATUS_LINE_BYTES = 4096;

/** Host header value: checks.active.host, else the node's DNS name, else its address (IPv6 in brackets). */
export function probeHostHeader(config: ActiveCheckConfig, node: UpstreamNode): string {
  if (config.host !== null) return config.host;
  if (node.name !== undefined) return node.name;
  return node.host.includes(':') ? `[${node.host}]` : node.host;
}

/** SNI for https probes: checks.active.host, else the node's DNS name, else none (an IP address is no server name). */
export function probeServerName(config: ActiveCheckConfig, node: UpstreamNode): string {
  if (config.host !== null) return config.host;
  if (node.name !== undefined) return node.name;
  return parseIp(node.host) === null ? node.host : '';
}

/** The probe request for one node. Built per probe: a few short strings once per interval. */
export function buildProbeRequest(config: ActiveCheckConfig, node: UpstreamNode): string {
  const headers = config.reqHeaders.map((h) => `${h}\r\n`).join('');
  const body = config.httpBody;
  const length = body.length > 0 ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '';
  return `${config.httpMethod} ${config.httpPath} HTTP/1.1\r\nConnection: close\r\n${headers}Host: ${probeHostHeader(config, node)}\r\n${length}\r\n${body}`;
}

const STATUS_LINE = /^HTTP\/\d+\.\d+\s+(\d+)/i;

/**
 * The status of an answer read so far: undefined while the first line is incomplete, 0 when the first line is
 * not an HTTP status line (lua-resty-healthcheck reports that as an unhealthy answer), else the status.
 */
export function readStatus(bytes: Uint8Array): number | undefined {
  const end = bytes.indexOf(0x0a);
  if (end < 0) return undefined;
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
  const m = STATUS_LINE.exec(line);
  return m === null ? 0 : Number(m[1]);
}

/** healthy.http_statuses -> success; unhealthy.http_statuses or no status -> http_failure; others count for nothing. */
export function classifyStatus(config: ActiveCheckConfig, status: number): ProbeOutcome {
  if (config.healthyStatuses.includes(status)) return 'success';
  if (status === 0 || config.unhealthyStatuses.includes(status)) return 'http_failure';
  return 'ignored';
}

/** What an answer read so far says: undefined while more is needed ('data' without a whole status line). */
export function httpOutcome(config: ActiveCheckConfig, bytes: Uint8Array, state: 'data' | 'full' | 'eof' | 'timeout' | 'error'): ProbeOutcome | undefined {
  const status = readStatus(bytes);
  if (status !== undefined) return classifyStatus(config, status);
  switch (state) {
    case 'data':
      return undefined;
    case 'full':
      return classifyStatus(config, 0);
    case 'timeout':
      return 'timeout';
    default:
      return 'tcp_failure'; // closed or broken before a whole status line: a receive failure
  }
}
