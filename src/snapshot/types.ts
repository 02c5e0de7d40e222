// The compiled, immutable view of the store that connections read. Built once per store change.

import type { Balancer } from '../proxy/balance/types';
import type { RouteIndex, RouteRule } from '../proxy/match/route';
import type { SniTable } from '../proxy/match/sni';
import type { TlsCertificate, TlsClientConfig } from '../runtime/types';
import type { HealthCheckConfig, UpstreamHealth } from '../health/types';
import type { FilterChain } from '../proxy/filter/types';
import type { SessionPolicy } from '../proxy/session/policy';

/**
 * What is known about a connection when a route is chosen (after any TLS handshake). The client address
 * is settable: the prelude replaces the socket's peer with the source of a trusted PROXY header, and every
 * later phase (match, filters, balance, record) sees the replacement.
 */
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
  /** Set on TLS listeners once decided: terminated by weir, or passed through untouched. */
  tls?: 'terminated' | 'passthrough';
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
  /** scheme "tls": the client-side TLS settings (identity = the plane's context cache key); else null. */
  tls?: TlsClientConfig | null;
  /** `checks` compiled (src/health/config.ts), or null/absent when the upstream has none. */
  checks?: HealthCheckConfig | null;
  /** Filled by the health registry right after the build; the dial path reads it per connection. */
  health?: HealthSlot;
}

/** A compiled upstream's link to its running checker (null: no checks, or not synced yet). */
export interface HealthSlot {
  checker: UpstreamHealth | null;
}

export interface CompiledRoute {
  id: string;
  /** "/apisix/stream_routes/<id>" */
  key: string;
  /** null when the route cannot forward; `problem` says why (logged per refused connection). */
  upstream: CompiledUpstream | null;
  problem: string | null;
  /** On a listener with both tls and tls_passthrough: forward the raw TLS bytes instead of terminating. */
  tlsPassthrough?: boolean;
  /** The route's stream filters by phase (NO_FILTERS when it has none). */
  filters: FilterChain;
  /** [weir] `on_change` / `on_node_removed`: what live sessions do when the route changes (absent or null = keep). */
  onChange?: SessionPolicy | null;
  onNodeRemoved?: SessionPolicy | null;
}

/** A compiled SSL object (spec 3.3). Server objects serve SNIs; client objects give upstream mTLS. */
export interface CompiledSsl {
  id: string;
  type: 'server' | 'client';
  /** Normalised patterns: "a.test.com", "*.test.com", "*". */
  snis: readonly string[];
  certificate: TlsCertificate;
}

/** An SSL row's compile outcome, reused by the next build while the row text is unchanged. */
export interface CachedSsl {
  source: string;
  ssl: CompiledSsl | null;
  problem: string | null;
}

/** A compiled upstream remembered for the next build: reused while its source row's text is unchanged. */
export interface CachedUpstream {
  /** JSON text of the row it came from (the upstream, or the route for an inline upstream). */
  source: string;
  upstream: CompiledUpstream | null;
  /** Why `upstream` is null, or a note about it (e.g. a balancer type not implemented yet). */
  problems: readonly string[];
}

/**
 * Everything a new connection needs, immutable once built. Live connections keep the snapshot they
 * started with; a store change builds a new one (src/snapshot/build.ts) and swaps one reference.
 */
export interface Snapshot {
  /** Store revision this was built from. */
  revision: number;
  /** Routes that compiled, in precedence order (id byte order). */
  routes: readonly CompiledRoute[];
  /** What selectRoute reads. */
  routeIndex: RouteIndex;
  /** Compiled upstreams by key ("/apisix/upstreams/1", "/apisix/stream_routes/2" for inline ones). */
  upstreams: ReadonlyMap<string, CachedUpstream>;
  /** Validated and compiled match rules by route key, reused by the next build while the row text holds. */
  rules: ReadonlyMap<string, CachedRule>;
  /** Compiled SSL objects by id (status 0 and broken ones included, ssl null for the broken). */
  ssls: ReadonlyMap<string, CachedSsl>;
  /** Server certificates by SNI (exact, then one-label wildcard, then "*"), enabled objects only. */
  certificates: SniTable<CompiledSsl>;
}

/** A route row's validation outcome: its compiled rule (without the per-build route object) or why it was skipped. */
export interface CachedRule {
  source: string;
  rule: Omit<RouteRule, 'route'> | string;
}
