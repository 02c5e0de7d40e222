// The compiled, immutable view of the store that connections read. Built once per store change.

import type { Balancer } from '../proxy/balance/types';

/** What is known about a connection when a route is chosen (after any TLS handshake). */
export interface ConnInfo {
  protocol: 'tcp' | 'udp';
  /** Client IP; IPv4-mapped IPv6 already unwrapped to IPv4. */
  remoteAddr: string;
  remotePort: number;
  /** Local IP the connection arrived on. */
  serverAddr: string;
  serverPort: number;
  /** Lowercased SNI without trailing dot, or null (plain TCP, UDP, TLS without SNI). */
  sni: string | null;
}

export interface UpstreamNode {
  host: string;
  port: number;
  weight: number;
  priority: number;
  /** "host:port" with IPv6 bracketed: the node's name in logs and health status. */
  address: string;
}

export interface CompiledUpstream {
  /** Resource key: "/apisix/upstreams/1" or, for an inline upstream, "/apisix/stream_routes/1". */
  key: string;
  nodes: readonly UpstreamNode[];
  balancer: Balancer;
  /** Extra attempts after the first failed connect. */
  retries: number;
  /** 0 = no deadline for retries. */
  retryTimeoutMs: number;
  connectTimeoutMs: number;
  /** max(send, read): idle timeout in both directions. */
  idleTimeoutMs: number;
  scheme: string;
}

export interface CompiledRoute {
  id: string;
  /** "/apisix/stream_routes/<id>" */
  key: string;
  /** null when the route cannot forward; `problem` says why (logged per refused connection). */
  upstream: CompiledUpstream | null;
  problem: string | null;
}
