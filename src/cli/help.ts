// The text of `weir --help`: every command, option and exit code.

export const HELP = `weir: TCP/UDP edge proxy with an APISIX-compatible Admin API and an embedded SQLite store

Usage:
  weir [start] [-c FILE] [--db FILE]       run the proxy (default command)
  weir RESOURCE list                       print all objects (Admin API JSON: {"list":[...],"total":N})
  weir RESOURCE get ID                     print one object
  weir RESOURCE put [ID] JSON|@FILE|- [--dry-run] [--force]
                                           create or replace (ID may come from the body's "id";
                                           --force: on a fleet data plane, until the next resync)
  weir RESOURCE delete ID [--force] [--dry-run]
                                           delete (--force: an upstream or ssl still in use)
  weir export                              print every object as YAML, APISIX standalone layout
  weir import FILE|- [--dry-run] [--merge] make the store hold FILE's objects, in one transaction
  weir migrate                             create the database or bring it to this version's schema
  weir check                               validate the config and every stored object
  weir explain --remote-addr IP --server-port PORT [--server-addr IP] [--sni NAME] [--protocol udp]
               [--proxy-peer IP[:PORT]]    which route such a connection gets, and why not the others
                                           (--proxy-peer: a proxy sent a PROXY header naming IP)
  weir reload                              make the running weir re-read its config (SIGHUP); exit 2 with
                                           the errors if it refused the new one (the old one keeps serving)
  weir upgrade                             start the executable again and hand it the listening sockets
                                           (SIGUSR2): no connection fails; the old process drains and exits
  weir --version | --help

  RESOURCE is stream_routes, upstreams, ssls, services, plugin_metadata (its ID is the plugin's name)
  or stream_listeners (weir's listener objects:
  {"addr": "127.0.0.1:9102", "protocol": "tcp"|"udp", "tls": ..., "max_connections": ...,
  "on_change": ...}).

Options (every command):
  -c, --config FILE   config file (default: conf/config.yaml in the working directory if present,
                      otherwise the built-in default). Keys follow APISIX's config.yaml:
                      apisix.stream_proxy.tcp/udp (port, "ip:port", {addr, tls, tls_passthrough,
                      proxy_protocol, proxy_protocol_to_upstream, max_connections}),
                      apisix.stream_proxy.max_connections,
                      apisix.ssl.*, apisix.data_encryption.keyring, deployment.admin.*,
                      nginx_config.worker_processes and nginx_config.stream.*, stream_plugins (the
                      enabled stream plugins: ip-restriction, limit-conn, mqtt-proxy, syslog,
                      traffic-split and weir's limit-bandwidth by default; prometheus turns the
                      metrics on), plugin_attr, e.g.
                      plugin_attr.prometheus (export_addr {ip, port}, default 127.0.0.1:9091;
                      export_uri, default /apisix/prometheus/metrics; metric_prefix), plus weir's
                      deployment.sqlite.path; deployment.role (data_plane, control_plane) with
                      deployment.etcd.* for a fleet sharing etcd (README "Running a fleet");
                      conf/config.yaml documents each one.
      --db FILE       the SQLite file to use instead of deployment.sqlite.path

Offline editing: the commands above open the SQLite file directly, with the same validation and
error messages as the Admin API, so they work while weir is stopped. A running weir notices any
commit to its file (by these commands, the sqlite3 shell or another tool) within a second and
swaps in the new routes; a row that fails validation is logged with its id and reason and skipped.
  JSON        inline ('{"nodes":{"10.0.0.5:3306":1},"type":"roundrobin"}'), @file, or - for stdin
  export      includes timestamps and private keys (ssls, opened with the keyring), so
              export | import is lossless: treat an export as a secret
  import      validates the whole file first (schemas, duplicate ids, references); without --merge
              objects missing from the file are removed; --dry-run prints the diff
              (+ add, ~ change with the changed fields, - remove) and writes nothing
  check       prints each problem on stderr, as the proxy would log it, and warns about stream
              routes that can never match (earlier routes take all their connections); compiles
              every plugin chain (routes, and services used or not) and checks plugin_metadata,
              each problem named by its object (stream_routes/1, services/edge, ...)
  --dry-run   on put and delete: runs the write in a transaction that is rolled back and prints
              the answer plus "effects" (traffic that changes route, references it would break)
  explain     prints the Admin API's explain answer (GET /apisix/admin/stream_routes/explain)

Routes, upstreams, services, plugin metadata, certificates and listeners change live through the Admin
API (default http://127.0.0.1:9180/apisix/admin/); a listener PUT binds the port before it answers.
GET /apisix/admin/plugins/list?subsystem=stream lists the enabled stream plugins,
GET /apisix/admin/plugins/NAME?subsystem=stream shows one's schema,
PUT /apisix/admin/plugins/reload re-reads stream_plugins and plugin_attr from the config file.
reload and upgrade find the running weir through weir.pid beside the database (-c/--db name it).

Signals: SIGTERM or SIGINT stop accepting and let open connections finish for
nginx_config.worker_shutdown_timeout (default 240s); a second signal exits at once.
SIGHUP reloads the config (as "weir reload"), SIGUSR2 upgrades (as "weir upgrade").

Environment: WEIR_SQLITE=better|node|bun picks the SQLite driver (default: bun:sqlite on Bun,
node:sqlite on Node >= 22.13 and Deno, better-sqlite3 on Node 20); WEIR_HTTP=node serves the Admin
API with node:http on every runtime (needed for cluster workers on Deno); WEIR_DATA_PLANE=node
uses node:net/dgram under Bun instead of Bun's native sockets (for comparisons); WEIR_TLS_PLANE=node
terminates TLS listeners with node:tls under Bun instead of Bun's native TLS (for comparisons);
WEIR_TRIM_CODE=0 keeps the start-up code mapped (by default, under Bun on Linux, weir unmaps it a
second after start and a few seconds after changes to the objects; the page cache keeps it, and it
maps back in if run).

Exit codes: 0 ok; 1 runtime error (port in use, object not found, database missing or busy, no
running weir, a failed upgrade); 2 bad input (arguments, config, an invalid object or import file, a
refused reload). Errors are one line on stderr.
`;
