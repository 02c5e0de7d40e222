// `weir start`: wire config, store, snapshot, TCP proxy and Admin API together; also used in-process by tests.

import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { AdminKey, Config } from '../config/types';
import { loadConfig } from '../config/load';
import { openStore, type Store } from '../store/store';
import { followAll, SnapshotHolder } from '../snapshot/holder';
import { createDnsClient } from '../dns/client';
import { NameResolver } from '../dns/resolver';
import { FilterCompiler } from '../plugins/compile';
import { pluginSetOf } from '../plugins/registry';
import { LocalConnCounters } from '../plugins/conn-counters';
import type { Snapshot } from '../snapshot/types';
import { startTcpProxy, type TcpProxy } from '../proxy/listener/tcp';
import { createAdminApp, MAX_BODY_BYTES } from '../admin/index';
import { AccessLog, logger } from '../log/logger';
import { createTcpDataPlane, createUdpDataPlane, detectRuntime, openSqlite, releaseIdleCode, releaseIdleMemory, serveHttp } from '../runtime/index';
import type { HttpServerHandle } from '../runtime/types';
import { ensureAdminKey } from './admin-key';
import { ensureKeyring } from '../store/keyring-file';
import { loadTrustedCa } from '../config/trusted-ca';
import { listenError } from '../lib/listen-error';
import { startUdpProxy, type UdpProxy } from '../proxy/listener/udp';
import { watchStore } from '../store/watch';
import { HealthRegistry } from '../health/registry';
import { resolveMaxConnections } from '../lib/fd-limit';
import { checkDatabase } from '../store/integrity';
import { isExtraWorker, resolveWorkerCount, startWorkers, udpListenersOf, watchPrimary, type Workers } from './workers';
import { inspectSources } from '../inspect/sources';
import { snapshotRules } from '../inspect/rules';
import { ShadowLog } from '../inspect/warnings';
import { primaryCounters, workerCounters } from './worker-counters';
import { answerPrimary } from './worker-ipc';
import type { StreamMetrics } from '../metrics/stream-metrics';

/** A running weir instance. */
export interface Weir {
  readonly config: Config;
  readonly store: Store;
  readonly proxy: TcpProxy;
  readonly udpProxy: UdpProxy;
  readonly admin: HttpServerHandle | null;
  readonly adminKeys: readonly AdminKey[];
  /** Running health checkers, one per upstream with `checks` (kept in step with every snapshot). */
  readonly health: HealthRegistry;
  /** This process's metrics when the prometheus export runs (stream_plugins lists prometheus), else null. */
  readonly metrics: StreamMetrics | null;
  /** The prometheus export server (worker 0 only), or null. */
  readonly metricsServer: HttpServerHandle | null;
  /** The snapshot new connections use now. */
  snapshot(): Snapshot;
  /** Owns the snapshot: builds the next one from what changed in the store, syncs health, swaps. */
  readonly holder: SnapshotHolder;
  /** Bring the snapshot up to date with the store (after a write by this process). */
  refresh(): void;
  /** Stop accepting, give open connections up to graceMs, close everything. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Config file; null = conf/config.yaml in the working directory, else the embedded default. */
  configPath: string | null;
  env?: Record<string, string | undefined>;
  /** Access log destination override (tests capture it). */
  accessLog?: AccessLog;
  /** `--db FILE`: overrides deployment.sqlite.path. */
  dbPath?: string | null;
}

/** Start weir. Rejects with ConfigError (bad config) or an Error naming the address (listen failure). */
export async function startWeir(opts: StartOptions): Promise<Weir> {
  const { config, warnings } = loadConfig(opts.configPath, opts.env);
  const trustedCa = loadTrustedCa(config.tls?.trustedCertificate); // a bad CA file is a config error (exit 2)
  for (const warning of warnings) logger.warn(warning);

  const dbPath = resolve(opts.dbPath ?? config.sqlite.path);
  const db = openSqlite(dbPath);
  const store = openStore(dbPath, { db, keyring: ensureKeyring(config.tls, dirname(dbPath)) });
  try {
    checkDatabase(db, dbPath); // PRAGMA quick_check: never serve from a damaged file
  } catch (err) {
    store.close();
    throw err;
  }
  const cleanup: Array<() => Promise<void> | void> = [() => store.close()];
  try {
    const adminKeys = ensureAdminKey(config, dirname(dbPath));
    const accessLog =
      opts.accessLog ??
      new AccessLog(config.log.access.enabled ? { path: config.log.access.path } : { disabled: true });
    cleanup.push(() => accessLog.close());

    // multi-core (nginx_config.worker_processes): extra workers share the listeners and leave the Admin API to worker 0
    const extraWorker = isExtraWorker(opts.env ?? process.env);
    const workerCount = extraWorker ? 1 : resolveWorkerCount(config.workerProcesses);
    const shareListeners = extraWorker || workerCount > 1;
    const health = new HealthRegistry({ tcp: await createTcpDataPlane(), udp: await createUdpDataPlane(), trustedCa });
    cleanup.push(() => health.stop());
    // imported only when prometheus is enabled: a plain proxy does not hold the metrics code
    const metrics = config.metrics ? new (await import('../metrics/stream-metrics')).StreamMetrics({ prefix: config.metrics.prefix, hostname: hostname() }) : null;
    metrics?.setHealth(health);
    const plugins = pluginSetOf(config);
    if (config.streamPlugins) for (const name of plugins.unknown) logger.warn('stream_plugins: weir has no such stream plugin (ignored)', { plugin: name });
    // limit-conn counts for the whole host: worker 0 holds them, the other workers ask it (src/cli/worker-counters.ts)
    const shared = !extraWorker && workerCount > 1 ? primaryCounters() : null;
    const counters = extraWorker ? workerCounters() : (shared?.counters ?? new LocalConnCounters());
    const compiler = new FilterCompiler(plugins, counters, config.pluginAttr, metrics);
    // served snapshots: services merged in, plugins compiled; incremental where neither is in use (holder.ts)
    // node names resolved with apisix.dns_resolver (or the system resolver), again at TTL expiry, off the hot path
    const names = new NameResolver({
      client: createDnsClient(config.dns?.servers ?? null),
      validMs: config.dns?.validMs ?? null,
      onChange: (keys) => holder.reresolve(keys),
    });
    cleanup.push(() => names.stop());
    const holder = new SnapshotHolder(store, { follower: followAll(health, names), trustedCa, compiler, addressesOf: names.addressesOf });
    holder.load();
    const release = idleReleaser();
    cleanup.push(() => release.stop());
    // shadowed routes are logged once each, by worker 0 only, after a burst of changes settles
    const shadows = new ShadowLog();
    const checkShadows = (): void => (extraWorker ? undefined : shadows.check(() => snapshotRules(holder.snapshot())));
    cleanup.push(() => shadows.stop());
    checkShadows();
    // Rows changed since the current snapshot are read and compiled, nothing else (src/snapshot/holder.ts).
    const refresh = (): void => {
      holder.refresh();
      checkShadows();
      release.afterChange();
    };
    // Commits by other processes (CLI, sqlite3 shell) are noticed by polling PRAGMA data_version.
    const watcher = watchStore(db, refresh);
    cleanup.push(() => watcher.stop());

    const udpProxy = await startUdpProxy({
      plane: await createUdpDataPlane({ reusePort: shareListeners }),
      listeners: udpListenersOf(config.stream.udp, extraWorker),
      snapshot: holder.snapshot,
      health,
      accessLog,
      maxSessions: config.udp.maxSessions,
      responses: config.udp.responses,
      realIpFrom: config.realIpFrom,
      metrics,
    });
    cleanup.push(() => udpProxy.shutdown(0));

    const caps = resolveMaxConnections(config.maxConnections); // below half the fd limit unless configured
    const proxy = await startTcpProxy({
      maxConnections: caps.max,
      plane: await createTcpDataPlane({ reusePort: shareListeners }),
      listeners: config.stream.tcp,
      snapshot: holder.snapshot,
      health,
      accessLog,
      tls: {
        fallbackSni: config.tls?.fallbackSni ?? null,
        prereadTimeoutMs: config.tls?.prereadTimeoutMs,
        handshakeTimeoutMs: config.tls?.handshakeTimeoutMs,
      },
      realIpFrom: config.realIpFrom,
      metrics,
    });
    cleanup.push(() => proxy.shutdown(0));
    metrics?.setListeners(() => proxy.listeners);

    // the export server is worker 0's; it asks the other workers for their counters on each scrape
    let workers: Workers | null = null;
    let metricsServer: HttpServerHandle | null = null;
    if (metrics !== null && config.metrics && !extraWorker) {
      metricsServer = await (await import('../metrics/export-server')).startExportServer({
        addr: config.metrics.exportAddr,
        uri: config.metrics.exportUri,
        collect: () => metrics.collect(),
        askWorkers: (kind, timeoutMs) => workers?.ask(kind, timeoutMs) ?? Promise.resolve([]),
      });
      cleanup.push(() => metricsServer?.close());
    }
    if (metrics !== null && extraWorker) answerPrimary('metrics', () => metrics.collect());

    let admin: HttpServerHandle | null = null;
    if (config.enableAdmin && !extraWorker) {
      const inspect = inspectSources({ snapshot: holder.snapshot, health, config, tcp: proxy, udp: udpProxy });
      const app = createAdminApp({ store, config, adminKeys, onChange: refresh, health, inspect, plugins });
      admin = await serveHttp(app, { ...config.admin.listen, maxBodyBytes: MAX_BODY_BYTES }).catch((err: unknown) => {
        const { host, port } = config.admin.listen;
        throw listenError(err, host, port, 'deployment.admin.admin_listen');
      });
      cleanup.push(() => admin?.close());
    }

    logger.info('weir started', {
      runtime: detectRuntime(),
      pid: process.pid, // tells the workers' lines apart (they share worker 0's stderr)
      sqlite: db.driver,
      config: config.source,
      db: dbPath,
      tcp: proxy.listeners.map((l) => `${l.host}:${l.port}`).join(','),
      udp: udpProxy.listeners.map((l) => `${l.host}:${l.port}`).join(',') || undefined,
      admin: admin ? `${admin.host}:${admin.port}` : 'off',
      metrics: metricsServer ? `${metricsServer.host}:${metricsServer.port}${config.metrics?.exportUri ?? ''}` : undefined,
      routes: holder.snapshot().routes.length,
      max_connections: caps.max,
      max_connections_from: caps.from,
      fd_limit: caps.fdLimit,
    });
    release.soon();

    const running: Workers = extraWorker
      ? watchPrimary(() => process.kill(process.pid, 'SIGTERM'))
      : startWorkers(workerCount, shared === null ? undefined : (child) => shared.serve(child));
    workers = running;
    let stopped: Promise<void> | null = null;
    return {
      config,
      store,
      proxy,
      udpProxy,
      admin,
      adminKeys,
      health,
      metrics,
      metricsServer,
      snapshot: holder.snapshot,
      holder,
      refresh,
      stop(graceMs = config.shutdownGraceMs) {
        stopped ??= (async () => {
          const workersStopped = running.stop(graceMs);
          release.stop();
          shadows.stop();
          watcher.stop();
          health.stop();
          names.stop();
          await admin?.close();
          await metricsServer?.close();
          await Promise.all([proxy.shutdown(graceMs), udpProxy.shutdown(graceMs), workersStopped]);
          accessLog.close();
          store.close();
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const undo of cleanup.reverse()) await undo();
    throw err;
  }
}

/**
 * Returns what start-up left behind to the system, RELEASE_AFTER_MS after start (before traffic builds up):
 * the heap's garbage and the start-up code pages (releaseIdleMemory). After each change of the objects
 * (Admin API, CLI, sqlite3), once they have been quiet for CODE_QUIET_MS, the code pages that serving the
 * change touched are released again (releaseIdleCode): no GC then, since a forced full GC would pause every
 * open connection after each burst of writes, for about 2 MiB; the runtime's own collector handles that.
 */
const RELEASE_AFTER_MS = 1000;
const CODE_QUIET_MS = 5000;
function idleReleaser(): { soon(): void; afterChange(): void; stop(): void } {
  let memory: ReturnType<typeof setTimeout> | null = null;
  let code: ReturnType<typeof setTimeout> | null = null;
  const clear = (): void => {
    if (memory !== null) clearTimeout(memory);
    if (code !== null) clearTimeout(code);
    memory = code = null;
  };
  return {
    soon() {
      clear();
      memory = setTimeout(() => {
        memory = null;
        releaseIdleMemory();
      }, RELEASE_AFTER_MS);
      memory.unref?.();
    },
    afterChange() {
      if (memory !== null) return; // the release after start is still to come
      if (code !== null) clearTimeout(code);
      code = setTimeout(() => {
        code = null;
        releaseIdleCode();
      }, CODE_QUIET_MS);
      code.unref?.();
    },
    stop: clear,
  };
}
