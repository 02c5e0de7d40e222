// The validated, normalised shape of conf/config.yaml that the rest of weir reads.

import type { UdpAdmissionSettings } from '../proxy/session/udp-admission';
import type { SessionPolicy } from '../proxy/session/policy';

/** One address weir binds. `host` is an IP literal ("0.0.0.0", "::", "127.0.0.10", "::1"). */
export interface ListenAddr {
  host: string;
  port: number;
}

/**
 * `proxy_protocol`: every connection (datagram) starts with a PROXY header, whose source becomes the client.
 * `proxy_protocol_to_upstream`: send one to the upstream (v1 on TCP as nginx does, v2 on UDP), unless the
 * upstream's own `proxy_protocol` says otherwise. Present only when true.
 */
export interface ProxyProtocolFlags {
  proxyProtocol?: true;
  proxyProtocolToUpstream?: true;
}

/** A TCP listener after normalisation: port ranges are already expanded, one entry per port. */
export interface TcpListenSpec extends ListenAddr, ProxyProtocolFlags {
  /** Terminate TLS on this listener (certificates come from the ssls objects). */
  tls: boolean;
  /** Route on the ClientHello's SNI and forward the TLS bytes untouched (with `tls`: per route). */
  tlsPassthrough?: boolean;
  /** Where in the YAML this came from, for messages: "apisix.stream_proxy.tcp[1]" (or "stream_listeners/<id>"). */
  origin: string;
  /** The item's max_connections: open connections of this listener beyond it are refused; absent = no own cap. */
  maxConnections?: number;
  /** [weir] stream_listeners `on_change`: what its open connections do when it is removed (absent or null = keep). */
  onChange?: SessionPolicy | null;
}

export interface UdpListenSpec extends ListenAddr, ProxyProtocolFlags {
  origin: string;
  /** The item's max_connections: new clients of this listener beyond that many sessions are dropped; absent = no own cap. */
  maxSessions?: number;
  /** Kept for symmetry; a removed UDP listener always ends its sessions (replies leave from its socket). */
  onChange?: SessionPolicy | null;
}

/** UDP session settings (nginx_config.stream). */
export interface UdpSettings {
  /** udp_max_sessions: bound of the session table; the least recently active unproven session goes first. */
  maxSessions: number;
  /** proxy_responses: replies expected per client datagram before the session ends; null = unlimited. */
  responses: number | null;
  /** udp_max_sessions_per_source, udp_session_rate, udp_session_burst (0 = off). */
  admission: UdpAdmissionSettings;
  /** udp_rcvbuf: SO_RCVBUF asked for on each UDP listener, in bytes. */
  rcvbuf: number;
}

/** apisix.ssl and apisix.data_encryption. */
export interface TlsSettings {
  /** SNI assumed for a TLS client that sends none (normalised), or null: such handshakes fail. */
  fallbackSni: string | null;
  /** Secrets encrypting private keys at rest (first encrypts, all decrypt); null = none configured. */
  keyring: string[] | null;
  /**
   * False when the user asked for keys in clear: apisix.data_encryption.enable_encrypt_fields: false, or
   * keyring: null. True by default, even without a keyring (weir then generates one).
   */
  encryptionEnabled: boolean;
  /**
   * apisix.ssl.ssl_trusted_certificate as written: "system" (default) or comma-separated entries, each
   * "system" or a PEM file path; the CA for upstream `tls.verify: true`. Read by src/config/trusted-ca.ts at start.
   */
  trustedCertificate?: string;
  /** nginx_config.stream.preread_timeout (ms, default 30 s): ClientHello wait on TLS listeners. */
  prereadTimeoutMs?: number;
  /** nginx_config.stream.ssl_handshake_timeout (ms, default 30 s): TLS handshake bound on terminating listeners. */
  handshakeTimeoutMs?: number;
}

/** apisix.dns_resolver / dns_resolver_valid: how node names are resolved (src/dns/). */
export interface DnsSettings {
  /** DNS servers ("10.0.0.53", "10.0.0.53:5353", "[fd00::53]:53"), asked in order; null: the system resolver. */
  servers: string[] | null;
  /** Overrides the records' TTL (ms); null: the TTL (system resolver: a 30 s refresh). */
  validMs: number | null;
}

/** The prometheus export server (plugin_attr.prometheus), when `stream_plugins` lists prometheus. */
export interface MetricsSettings {
  exportAddr: ListenAddr;
  /** Path the metrics are served under (export_uri). */
  exportUri: string;
  /** metric_prefix: the prefix of APISIX's own metric names. */
  prefix: string;
}

export type AdminRole = 'admin' | 'viewer';

/** The resources a scope can name ("*" = all of them). */
export type ScopeResource = 'stream_routes' | 'upstreams' | 'ssls' | 'stream_listeners' | '*';

/** One grant of a scoped admin key: these methods on the ids (globs, `*` any run of characters) of a resource. */
export interface AdminKeyGrant {
  resource: ScopeResource;
  ids: string[];
  /** Upper-case HTTP methods. */
  methods: string[];
}

export interface AdminKey {
  name: string;
  /** The key in clear; "" when only its hash is configured. */
  key: string;
  role: AdminRole;
  /** deployment.admin.admin_key[].key_sha256: hex SHA-256 of the key, so the file need not hold it in clear. */
  keySha256?: string;
  /** deployment.admin.admin_key[].scope; absent = everything the role allows. */
  scope?: AdminKeyGrant[];
}

export interface AccessLogConfig {
  enabled: boolean;
  /** File to append to; null means standard output. */
  path: string | null;
}

/** deployment.role + deployment.etcd: a weir fleet sharing its objects through etcd (src/fleet/). */
export interface FleetSettings {
  /** data_plane: reads etcd, refuses writes; control_plane: the Admin API writes to etcd. */
  role: 'data_plane' | 'control_plane';
  /** deployment.etcd.host, without trailing slashes. */
  endpoints: string[];
  /** deployment.etcd.prefix without a trailing slash (default /apisix). */
  prefix: string;
  /** deployment.etcd.timeout (default 30 s): each call. */
  timeoutMs: number;
  /** deployment.etcd.watch_timeout (default 50 s): each watch request is re-made after this long. */
  watchTimeoutMs: number;
  user: string | null;
  password: string | null;
  /** deployment.etcd.tls: client certificate files, verification, SNI; the CA is apisix.ssl.ssl_trusted_certificate. */
  tls: { cert: string | null; key: string | null; verify: boolean; sni: string | null };
}

export interface Config {
  /** Absolute path of the file read, or "<embedded default>". */
  source: string;
  enableAdmin: boolean;
  /** False only when apisix.proxy_mode is "http": the stream_routes API then answers 400 like APISIX. */
  streamEnabled: boolean;
  stream: {
    tcp: TcpListenSpec[];
    udp: UdpListenSpec[];
  };
  udp: UdpSettings;
  admin: {
    /** deployment.admin.admin_key_required (default true). */
    keyRequired: boolean;
    keys: AdminKey[];
    listen: ListenAddr;
    /** CIDRs allowed to reach the Admin API; empty list = everyone. */
    allow: string[];
    cors: boolean;
  };
  sqlite: {
    /** Path of the database file, resolved against the working directory. */
    path: string;
  };
  log: {
    access: AccessLogConfig;
  };
  /** TLS settings; absent in hand-built test configs (= no fallback SNI, no keyring). */
  tls?: TlsSettings;
  /** Grace period for open connections on SIGTERM/SIGINT, in milliseconds. */
  shutdownGraceMs: number;
  /**
   * apisix.stream_proxy.max_connections: open TCP connections of this process beyond it are refused at accept.
   * Absent = derived from the fd limit at start (src/lib/fd-limit.ts).
   */
  maxConnections?: number;
  /** nginx_config.worker_processes: proxy processes sharing the listeners ("auto" = one per core); absent = 1. */
  workerProcesses?: number | 'auto';
  /**
   * nginx_config.stream.real_ip_from: the peers whose PROXY headers are believed (canonical IPs and CIDRs);
   * absent = every peer of a proxy_protocol listener, as nginx without set_real_ip_from.
   */
  realIpFrom?: string[];
  /** How node names are resolved; absent in hand-built test configs (= the system resolver, 30 s refresh). */
  dns?: DnsSettings;
  /** stream_plugins: the enabled stream plugins as written; null or absent = weir's default list. */
  streamPlugins?: string[] | null;
  /** plugin_attr: per-plugin settings as written (prometheus.export_addr, ...); absent = none. */
  pluginAttr?: Record<string, Record<string, unknown>>;
  /** The prometheus export server; absent or null: off (no metrics are counted at all). */
  metrics?: MetricsSettings | null;
  /** apisix.status: the keyless GET /status and /status/ready listener; absent = none. */
  statusListen?: ListenAddr;
  /** Fleet mode (deployment.role data_plane / control_plane); absent = traditional, no etcd code runs. */
  fleet?: FleetSettings;
}

/** A config problem: `path` names the key ("apisix.stream_proxy.tcp[1]"), `message` says what is wrong. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
  }
}
