// The validated, normalised shape of conf/config.yaml that the rest of weir reads.

import type { SessionPolicy } from '../proxy/session/policy';

/** One address weir binds. `host` is an IP literal ("0.0.0.0", "::", "127.0.0.10", "::1"). */
export interface ListenAddr {
  host: string;
  port: number;
}

/** A TCP listener after normalisation: port ranges are already expanded, one entry per port. */
export interface TcpListenSpec extends ListenAddr {
  /** Terminate TLS on this listener (certificates come from the ssls objects). */
  tls: boolean;
  /** Route on the ClientHello's SNI and forward the TLS bytes untouched (with `tls`: per route). */
  tlsPassthrough?: boolean;
  /** Where in the YAML this came from, for messages: "apisix.stream_proxy.tcp[1]" (or "stream_listeners/<id>"). */
  origin: string;
  /** PROXY protocol flags of a stream_listeners object (wired by the PROXY protocol work). */
  proxyProtocol?: boolean;
  proxyProtocolToUpstream?: boolean;
  /** [weir] stream_listeners `on_change`: what its open connections do when it is removed (absent or null = keep). */
  onChange?: SessionPolicy | null;
}

export interface UdpListenSpec extends ListenAddr {
  origin: string;
  /** Kept for symmetry; a removed UDP listener always ends its sessions (replies leave from its socket). */
  onChange?: SessionPolicy | null;
}

/** UDP session settings (nginx_config.stream). */
export interface UdpSettings {
  /** udp_max_sessions: bound of the session table; the least recently active unproven session goes first. */
  maxSessions: number;
  /** proxy_responses: replies expected per client datagram before the session ends; null = unlimited. */
  responses: number | null;
}

/** apisix.ssl and apisix.data_encryption. */
export interface TlsSettings {
  /** SNI assumed for a TLS client that sends none (normalised), or null: such handshakes fail. */
  fallbackSni: string | null;
  /** Secrets encrypting private keys at rest (first encrypts, all decrypt); null = none configured. */
  keyring: string[] | null;
  /** apisix.data_encryption.enable_encrypt_fields (default true). */
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

export type AdminRole = 'admin' | 'viewer';

export interface AdminKey {
  name: string;
  key: string;
  role: AdminRole;
}

export interface AccessLogConfig {
  enabled: boolean;
  /** File to append to; null means standard output. */
  path: string | null;
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
  /** nginx_config.worker_processes: proxy processes sharing the listeners ("auto" = one per core); absent = 1. */
  workerProcesses?: number | 'auto';
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
