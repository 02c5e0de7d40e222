// Which config.yaml keys weir reads, which APISIX keys it knowingly ignores, and which 2.x keys moved.
// Kept apart from the readers so the lists are easy to review against APISIX's config-default.

/** Keys weir reads, per mapping (the YAML path of the mapping, "" for the top level). */
export const USED_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': ['apisix', 'deployment', 'nginx_config', 'stream_plugins', 'plugin_attr'],
  apisix: ['enable_admin', 'proxy_mode', 'stream_proxy', 'ssl', 'data_encryption', 'dns_resolver', 'dns_resolver_valid', 'status'],
  'apisix.status': ['ip', 'port'],
  'apisix.ssl': ['fallback_sni', 'ssl_trusted_certificate'],
  'apisix.data_encryption': ['enable_encrypt_fields', 'keyring'],
  'apisix.stream_proxy': ['only', 'tcp', 'udp', 'max_connections'],
  deployment: ['admin', 'sqlite', 'role', 'role_traditional', 'role_data_plane', 'role_control_plane', 'etcd'],
  'deployment.role_traditional': ['config_provider'],
  'deployment.role_data_plane': ['config_provider'],
  'deployment.role_control_plane': ['config_provider'],
  'deployment.etcd': ['host', 'prefix', 'timeout', 'watch_timeout', 'user', 'password', 'tls'],
  'deployment.etcd.tls': ['cert', 'key', 'verify', 'sni'],
  'deployment.admin': ['admin_key', 'admin_key_required', 'admin_listen', 'allow_admin', 'enable_admin_cors'],
  'deployment.admin.admin_listen': ['ip', 'port'],
  'deployment.admin.admin_key[]': ['name', 'key', 'key_sha256', 'role', 'scope'],
  'deployment.admin.admin_key[].scope[]': ['resource', 'ids', 'methods'],
  'deployment.sqlite': ['path'],
  nginx_config: ['worker_shutdown_timeout', 'stream', 'worker_processes'],
  'nginx_config.stream': [
    'enable_access_log', 'access_log', 'udp_max_sessions', 'proxy_responses', 'preread_timeout', 'ssl_handshake_timeout', 'real_ip_from',
    'udp_max_sessions_per_source', 'udp_session_rate', 'udp_session_burst', 'udp_rcvbuf',
  ],
  'apisix.stream_proxy.tcp[]': ['addr', 'tls', 'proxy_protocol', 'proxy_protocol_to_upstream', 'tls_passthrough', 'max_connections'],
  'apisix.stream_proxy.udp[]': ['addr', 'proxy_protocol', 'proxy_protocol_to_upstream', 'max_connections'],
  'plugin_attr.prometheus': ['export_uri', 'export_addr', 'enable_export_server', 'metric_prefix'],
  'plugin_attr.prometheus.export_addr': ['ip', 'port'],
};

// APISIX 3.x keys that mean something to APISIX (HTTP proxy, etcd, nginx tuning, plugins) and nothing to
// weir. They are reported together in one warning line instead of one "unknown key" line each, so a
// config copied from APISIX does not flood the log.
const NOT_USED = [
  'plugins',
  // APISIX's prometheus settings for HTTP metrics and its own refresh loop
  ...prefixed('plugin_attr.prometheus', ['metrics', 'expire', 'default_buckets', 'refresh_interval']),
  'graphql',
  'discovery',
  'wasm',
  'ext-plugin',
  'xrpc',
  'etcd',
  ...prefixed('apisix', [
    'node_listen',
    'enable_dev_mode',
    'enable_reuseport',
    'show_upstream_status_in_response_header',
    'enable_ipv6',
    'enable_http2',
    'enable_server_tokens',
    'extra_lua_path',
    'extra_lua_cpath',
    'lua_module_hook',
    'proxy_cache',
    'delete_uri_tail_slash',
    'normalize_uri_like_servlet',
    'router',
    'resolver_timeout',
    'enable_resolv_search_opt',
    'enable_control',
    'control',
    'disable_sync_configuration_during_start',
    'worker_startup_time_threshold',
    'events',
    'lru',
    'proxy_protocol',
    'id',
  ]),
  // TLS tuning of APISIX's HTTPS listener; weir's TLS listeners use the runtime's defaults.
  ...prefixed('apisix.ssl', [
    'enable',
    'listen',
    'ssl_protocols',
    'ssl_ciphers',
    'ssl_session_tickets',
    'ssl_session_cache',
    'ssl_session_timeout',
    'key_encrypt_salt',
  ]),
  ...prefixed('deployment', [
    'fallback_cp',
    // weir retries etcd with its own backoff (0.25 s doubling to 3 s, README "Running a fleet")
    'etcd.startup_retry',
    'etcd.resync_delay',
    'etcd.health_check_timeout',
    'certs',
  ]),
  ...prefixed('deployment.admin', ['enable_admin_ui', 'admin_api_version', 'https_admin', 'admin_api_mtls']),
  ...prefixed('nginx_config', [
    'error_log',
    'error_log_level',
    'enable_cpu_affinity',
    'worker_rlimit_nofile',
    'max_pending_timers',
    'max_running_timers',
    'event',
    'meta',
    'envs',
    'user',
    'main_configuration_snippet',
    'http_configuration_snippet',
    'http_server_configuration_snippet',
    'http_server_location_configuration_snippet',
    'http_admin_configuration_snippet',
    'http_end_configuration_snippet',
    'stream_configuration_snippet',
    'http',
  ]),
  ...prefixed('nginx_config.stream', [
    'access_log_format',
    'access_log_format_escape',
    'lua_shared_dict',
  ]),
];

export const NOT_USED_KEYS: ReadonlySet<string> = new Set(NOT_USED);

/** APISIX 2.x kept the Admin API settings under `apisix`; 3.x (and weir) read them from `deployment.admin`. */
// A Map, not an object literal: config keys such as "__proto__" must not find anything here.
export const MOVED_KEYS: ReadonlyMap<string, string> = new Map([
  ['apisix.admin_key', 'deployment.admin.admin_key'],
  ['apisix.allow_admin', 'deployment.admin.allow_admin'],
  ['apisix.admin_listen', 'deployment.admin.admin_listen'],
  ['apisix.port_admin', 'deployment.admin.admin_listen.port'],
  ['apisix.enable_admin_cors', 'deployment.admin.enable_admin_cors'],
  ['apisix.admin_key_required', 'deployment.admin.admin_key_required'],
]);

function prefixed(prefix: string, keys: string[]): string[] {
  return keys.map((key) => `${prefix}.${key}`);
}
