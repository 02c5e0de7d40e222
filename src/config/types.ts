// The validated, normalised shape of conf/config.yaml that the rest of weir reads.

/** One address weir binds. `host` is an IP literal ("0.0.0.0", "::", "127.0.0.10", "::1"). */
export interface ListenAddr {
  host: string;
  port: number;
}

/** A TCP listener after normalisation: port ranges are already expanded, one entry per port. */
export interface TcpListenSpec extends ListenAddr {
  /** Terminate TLS on this listener (certificates come from the ssls objects). */
  tls: boolean;
  /** Where in the YAML this came from, for messages: "apisix.stream_proxy.tcp[1]". */
  origin: string;
}

export interface UdpListenSpec extends ListenAddr {
  origin: string;
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
  /** Grace period for open connections on SIGTERM/SIGINT, in milliseconds. */
  shutdownGraceMs: number;
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
