// The compiled, immutable view of the store that connections read. Built once per store change.

import type { Balancer } from '../proxy/balance/types';
import type { RouteIndex, RouteRule } from '../proxy/match/route';
import type { SniTable } from '../proxy/match/sni';
import type { TlsCertificate, TlsClientConfig } from '../runtime/types';
import type { HealthCheckConfig } from '../health/types';
import type { FilterChain } from '../proxy/filter/types';
import type { JsonObject } from '../lib/json';
import type { StoredObject } from '../store/types';
import type { UpstreamProxyPlans } from '../proxy/connect/proxy-prefix';
import type { SessionPolicy } from '../proxy/session/policy';

/**
 * What is known about a connection when a route is chosen (after any TLS handshake). The client address
 * is settable: the prelude replaces the socket's peer with the source of a trusted PROXY header, and every
 * later phase (match, filters, balance, record) sees the replacement.
 */
export interface ConnInfo {
  protocol: 'tcp' | 'udp';
  /** The connection's id in the access log and the Admin API's connection views; absent on hand-made infos. */
  readonly id?: number;
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
  /**
   * The peer ("ip:port") whose PROXY header named the client, for the access log's `proxy_peer`; absent or
   * null when no header did (the plain case: nothing is stored for it).
   */
  readonly proxyPeer?: string | null;
  /** The id the access record prints (src/proxy/session/connection-id.ts); absent: the record takes a fresh one. */
  connectionId?(): string;
  /**
   * Variables the route's filters set in their access phase (mqtt-proxy's mqtt_client_id), read by a chash
   * `key` that names one. Null or absent on connections whose filters set none (the common case).
   */
  readonly vars?: ReadonlyMap<string, string> | null;
}

export interface UpstreamNode {
  host: string;
  port: number;
  weight: number;
  priority: number;
  /** "host:port" with IPv6 bracketed: the node's name in logs and health status. */
  address: string;
  /** The DNS name `host` was resolved from (src/dns/), for nodes written as a name; absent otherwise. */
  name?: string;
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
  /**
   * `checks` compiled (src/health/config.ts), or null/absent when the upstream has none. The running
   * checker is not here: the data plane asks a HealthView (src/health/types.ts) by the upstream's key.
   */
  checks?: HealthCheckConfig | null;
  /** weir's `proxy_protocol` field compiled per transport (it wins over a listener's proxy_protocol_to_upstream); null: none. */
  readonly proxyProtocol?: UpstreamProxyPlans | null;
  /** Nodes written as DNS names: what expanding them again needs (src/snapshot/resolve.ts); absent otherwise. */
  named?: NamedNodes;
}

/** An upstream whose nodes name hosts by DNS name: its nodes as written and how its balancer is built. */
export interface NamedNodes {
  /** The nodes as written, names not expanded. */
  readonly declared: readonly UpstreamNode[];
  /** The distinct names among them (what src/dns/resolver.ts keeps resolved). */
  readonly names: readonly string[];
  readonly type: string;
  readonly hashOn?: string;
  readonly key?: string;
  /** `retries` as written, or null: one less than the nodes after expansion. */
  readonly retries: number | null;
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
  readonly source: string;
  readonly ssl: CompiledSsl | null;
  readonly problem: string | null;
  /** status is not 0: a server certificate is served. */
  readonly enabled: boolean;
  /** The problem is a private key the keyring cannot open (src/snapshot/ssl.ts keyringFailures counts these). */
  readonly keyringFailure?: boolean;
}

/** A compiled upstream remembered for the next build: reused while its source row's text is unchanged. */
export interface CachedUpstream {
  /** JSON text of the row it came from (the upstream, or the route for an inline upstream), plus its client-cert SSL row's. */
  readonly source: string;
  readonly upstream: CompiledUpstream | null;
  /** Why `upstream` is null, or a note about it (e.g. a balancer type not implemented yet). */
  readonly problems: readonly string[];
  /** A stored upstream that failed validation: why (routes naming it say "upstream <id> is invalid"). */
  readonly skipped?: string;
  /**
   * An upstream that takes its client certificate from an SSL object (tls.client_cert_id): what it was
   * compiled from, so a change of that SSL object recompiles it without reading its row again.
   */
  readonly clientCert?: { readonly sslId: string; readonly rowText: string; readonly value: JsonObject };
}

/**
 * Everything a new connection needs, frozen once built (src/snapshot/build.ts): nothing writes into it
 * afterwards, health checkers included (they live beside it, src/health/registry.ts). Live connections keep
 * the snapshot they started with; a store change builds a new one and src/snapshot/holder.ts swaps one reference.
 * The maps are also what the next build reuses, by row text, so unchanged rows are not compiled again.
 */
export interface Snapshot {
  /** Store revision this was built from. */
  readonly revision: number;
  /** Routes that compiled, in precedence order (id byte order); a frozen array. */
  readonly routes: readonly CompiledRoute[];
  /** What selectRoute reads. */
  readonly routeIndex: RouteIndex;
  /** Compiled upstreams by key ("/apisix/upstreams/1", "/apisix/stream_routes/2" for inline ones), skipped ones included. */
  readonly upstreams: ReadonlyMap<string, CachedUpstream>;
  /** Validated and compiled match rules by route key, reused by the next build while the row text holds. */
  readonly rules: ReadonlyMap<string, CachedRule>;
  /** Compiled SSL objects by id (status 0 and broken ones included, ssl null for the broken). */
  readonly ssls: ReadonlyMap<string, CachedSsl>;
  /** Server certificates by SNI (exact, then one-label wildcard, then "*"), enabled objects only. */
  readonly certificates: SniTable<CompiledSsl>;
  /**
   * Why rows are skipped or routes cannot forward, by row ("stream_routes/1", "upstreams/u", "ssls/3");
   * rows without problems are absent. The holder logs a row's problem when it first appears.
   */
  readonly problems: ReadonlyMap<string, readonly string[]>;
  /** Stored upstream id -> keys of the routes naming it (valid rules only): what a changed upstream relinks. */
  readonly routesByUpstream: ReadonlyMap<string, readonly string[]>;
  /**
   * [weir] The stored stream_listeners rows in id order, as read (src/control/listener-sync.ts binds them). The
   * same array from build to build while none of them changed, so a swap that left them alone is one comparison.
   */
  readonly listenerRows: readonly StoredObject[];
}

/**
 * A route row's validation outcome: its compiled rule (without the per-build route object) or why it was
 * skipped, and what it forwards to, so the route can be linked to a changed upstream without its row.
 */
export interface CachedRule {
  readonly source: string;
  readonly rule: Omit<RouteRule, 'route'> | string;
  /** `upstream_id` as text (it wins over an inline upstream), or null. */
  readonly upstreamId: string | null;
  /** No upstream_id, and an inline `upstream` object (compiled under the route's key). */
  readonly inline: boolean;
  readonly tlsPassthrough: boolean;
  /**
   * The route row (service merged in): linkRoute compiles its `plugins` into the route's filter chain with the
   * build's upstreams (BuildDeps.compileFilters, which reuses an unchanged route's chain).
   */
  readonly row: StoredObject;
  /** [weir] The route's `on_change` / `on_node_removed` when it has them (CompiledRoute's fields). */
  readonly onChange?: SessionPolicy | null;
  readonly onNodeRemoved?: SessionPolicy | null;
}
