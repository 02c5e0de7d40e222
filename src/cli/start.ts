// `weir start`: wire config, store, snapshot, TCP proxy and Admin API together; also used in-process by tests.

import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { AdminKey, Config, MetricsSettings } from '../config/types';
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
import { createStatusApp } from '../admin/fleet';
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
import { isExtraWorker, resolveWorkerCount, selfCommand, startWorkers, udpListenersOf, watchPrimary, type Workers } from './workers';
import { inspectSources } from '../inspect/sources';
import { snapshotRules } from '../inspect/rules';
import { ShadowLog } from '../inspect/warnings';
import { primaryCounters, workerCounters } from './worker-counters';
import { answerPrimary } from './worker-ipc';
import { type AskPeers, COUNT_QUESTION, END_QUESTION, ROWS_QUESTION, answerCount, answerEnd, answerRows } from '../inspect/worker-tables';
import type { StreamMetrics } from '../metrics/stream-metrics';
import type { Fleet } from '../fleet/start-fleet';
import { diffRoutes } from '../proxy/session/policy';
import { configListenerObjects } from '../control/listener-specs';
import { ListenerSync, localTarget } from '../control/listener-sync';
import { applyWorkerConfig, reloadConfig, type ReloadOutcome, type ReloadScope } from '../control/reload';
import { LivePlugins } from '../control/live-plugins';
import { type Handover, type PassedSocket, type UpgradeOutcome, startUpgrade } from '../control/upgrade';
import { pidFilePath, removePidFile, writePidFile } from '../control/pid-file';

/** A running weir instance. */
export interface Weir {
  /** The config in force (a reload replaces it). */
  readonly config: Config;
  /** The database file, resolved. */
  readonly dbPath: string;
  readonly store: Store;
  readonly proxy: TcpProxy;
  readonly udpProxy: UdpProxy;
  readonly admin: HttpServerHandle | null;
  readonly adminKeys: readonly AdminKey[];
  /** Config and stream_listeners objects, applied to every worker. */
  readonly listeners: ListenerSync;
  /** Running health checkers, one per upstream with `checks` (kept in step with every snapshot). */
  readonly health: HealthRegistry;
  /** This process's metrics when the prometheus export runs (stream_plugins lists prometheus), else null; a reload may change it. */
  readonly metrics: StreamMetrics | null;
  /** The prometheus export server (worker 0 only), or null. */
  readonly metricsServer: HttpServerHandle | null;
  /** stream_plugins and plugin_attr in force, with the metrics and export server hanging off them. */
  readonly plugins: LivePlugins;
  /** The snapshot new connections use now. */
  snapshot(): Snapshot;
  /** Owns the snapshot: builds the next one from what changed in the store, syncs health, swaps. */
  readonly holder: SnapshotHolder;
  /** Fleet mode (deployment.role data_plane or control_plane) on worker 0: the etcd sync; null in traditional mode. */
  readonly fleet: Fleet | null;
  /** Bring the snapshot up to date with the store (after a write by this process). */
  refresh(): void;
  /**
   * Re-read the config file and apply what changed (SIGHUP, `weir reload`); the old config stays on any error.
   * Scope 'plugins': only stream_plugins and plugin_attr (PUT /apisix/admin/plugins/reload).
   */
  reload(scope?: ReloadScope): Promise<ReloadOutcome>;
  /**
   * Start this program again and hand it the listening sockets (SIGUSR2, `weir upgrade`). On success this
   * process has stopped accepting: stop() it to drain. On failure it serves on as before.
   */
  upgrade(): Promise<UpgradeOutcome>;
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
  /** Started by a binary upgrade: inherited sockets and the Admin API's port come from the old process. */
  handover?: Handover | null;
}

/** Start weir. Rejects with ConfigError (bad config) or an Error naming the address (listen failure). */
export async function startWeir(opts: StartOptions): Promise<Weir> {
  const loaded = loadConfig(opts.configPath, opts.env);
  const { warnings } = loaded;
  let config = loaded.config;
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
    let adminKeys = ensureAdminKey(config, dirname(dbPath));
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
    // imported only when prometheus is enabled (at start or by a reload): a plain proxy does not hold the metrics code
    let fleet: Fleet | null = null;
    const createMetrics = async (settings: MetricsSettings): Promise<StreamMetrics> => {
      const made = new (await import('../metrics/stream-metrics')).StreamMetrics({ prefix: settings.prefix, hostname: hostname() });
      made.setHealth(health);
      made.setListeners(() => proxy.listeners);
      const syncing = fleet;
      if (syncing !== null) made.setFleet(() => syncing.metrics());
      return made;
    };
    const metrics = config.metrics ? await createMetrics(config.metrics) : null;
    const plugins = pluginSetOf(config);
    if (config.streamPlugins) for (const name of plugins.unknown) logger.warn('stream_plugins: weir has no such stream plugin (ignored)', { plugin: name });
    // limit-conn counts for the whole host: worker 0 holds them, the other workers ask it (src/cli/worker-counters.ts)
    const shared = !extraWorker && workerCount > 1 ? primaryCounters() : null;
    const counters = extraWorker ? workerCounters() : (shared?.counters ?? new LocalConnCounters());
    const compiler = new FilterCompiler(plugins, counters, config.pluginAttr, metrics);
    // set once the proxies and listeners exist: open sessions of changed routes follow their policies, and
    // worker 0 applies stored listeners to every worker
    let afterRefresh: (prev: Snapshot) => void = () => {};
    let afterResolve: (prev: Snapshot) => void = () => {};
    // served snapshots: services merged in, plugins compiled; incremental where neither is in use (holder.ts)
    // node names resolved with apisix.dns_resolver (or the system resolver), again at TTL expiry, off the hot path
    const names = new NameResolver({
      client: createDnsClient(config.dns?.servers ?? null),
      validMs: config.dns?.validMs ?? null,
      onChange: (keys) => {
        const prev = holder.snapshot();
        holder.reresolve(keys);
        afterResolve(prev);
      },
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
      const prev = holder.snapshot();
      holder.refresh();
      checkShadows();
      release.afterChange();
      afterRefresh(prev);
    };
    // Commits by other processes (CLI, sqlite3 shell) are noticed by polling PRAGMA data_version.
    const watcher = watchStore(db, refresh);
    cleanup.push(() => watcher.stop());

    const udpProxy = await startUdpProxy({
      plane: await createUdpDataPlane({ reusePort: shareListeners, rcvbuf: config.udp.rcvbuf }),
      listeners: udpListenersOf(config.stream.udp, extraWorker),
      snapshot: holder.snapshot,
      health,
      accessLog,
      maxSessions: config.udp.maxSessions,
      admission: config.udp.admission,
      responses: config.udp.responses,
      realIpFrom: config.realIpFrom,
      metrics,
      inherited: opts.handover?.inherited,
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
      inherited: opts.handover?.inherited,
    });
    cleanup.push(() => proxy.shutdown(0));

    // the export server is worker 0's; it asks the other workers for their counters on each scrape
    let workers: Workers | null = null;
    const live = new LivePlugins({
      config,
      compiler,
      metrics,
      createMetrics,
      flows: [proxy.flow, udpProxy.flow],
      // a plugin reload: every route built again with the new set (chains of unchanged plugins are reused)
      rebuild: () => {
        const prev = holder.snapshot();
        holder.load();
        checkShadows();
        afterRefresh(prev);
      },
      askWorkers: extraWorker ? undefined : (kind, timeoutMs) => workers?.ask(kind, timeoutMs) ?? Promise.resolve([]),
    });
    cleanup.push(() => live.stop());

    // after a binary upgrade the old process still holds the Admin API's, the metrics export's and the status
    // listener's ports (HTTP servers are not handed over): it closes them now, and this process binds them below
    const exportSettings = !extraWorker && metrics !== null ? (config.metrics ?? null) : null;
    if (!extraWorker && (config.enableAdmin || exportSettings !== null || config.statusListen !== undefined)) await opts.handover?.adminFree();

    await live.serveExport();
    // a reload may turn the metrics on later: an extra worker answers with those in force (none: an empty list)
    if (extraWorker) answerPrimary('metrics', () => live.metrics?.collect() ?? []);
    // the Admin API's connection views and dry runs: worker 0 asks every worker for its rows and counts, and asks
    // the holder to end one
    if (extraWorker) {
      const flows = { tcp: proxy.flow, udp: udpProxy.flow };
      answerPrimary(ROWS_QUESTION, (question) => answerRows(flows, question));
      answerPrimary(END_QUESTION, (question) => answerEnd(flows, question));
      answerPrimary(COUNT_QUESTION, (question) => answerCount(flows, question));
    }

    // fleet mode: listeners already serve what SQLite holds; the sync loop fills it from etcd in the background.
    // Worker 0 syncs; the other workers see its commits through their store watchers.
    if (config.fleet !== undefined && !extraWorker) {
      const { startFleet } = await import('../fleet/start-fleet');
      fleet = await startFleet({ config, store, db, trustedCa, plugins: () => live.plugins, onApplied: refresh });
      const started = fleet;
      cleanup.push(() => started.stop());
      live.metrics?.setFleet(() => started.metrics());
    }

    // stream_listeners objects: bound now (those that cannot be are logged and skipped); later worker 0 applies
    // every change to all workers, and an extra worker follows what worker 0 sends it
    const local = localTarget(`worker ${extraWorker ? (opts.env ?? process.env).WEIR_WORKER : 0} (pid ${process.pid})`, proxy, udpProxy);
    const listeners = new ListenerSync({
      rows: () => holder.snapshot().listenerRows,
      config: () => config,
      targets: () => [local, ...(workers?.targets() ?? [])],
    });
    await listeners.sync();
    let followStore = !extraWorker;
    afterRefresh = (prev) => {
      const next = holder.snapshot();
      const changes = diffRoutes(prev, next);
      proxy.applyRouteChanges(changes);
      udpProxy.applyRouteChanges(changes);
      // the rows ride in the snapshot: the same array when a swap left them alone (a route write, say)
      if (followStore && next.listenerRows !== prev.listenerRows) void listeners.sync();
    };
    // a node name's addresses changed: on_node_removed applies to sessions on an address it no longer has
    afterResolve = (prev) => {
      const changes = diffRoutes(prev, holder.snapshot(), { nodesOnly: true });
      proxy.applyRouteChanges(changes);
      udpProxy.applyRouteChanges(changes);
    };

    // one reload at a time: a SIGHUP during a reload reloads once more afterwards
    const parts = { store, dataDir: dirname(dbPath), accessLog, proxy, udpProxy, plugins: live };
    let reloading: Promise<ReloadOutcome> = Promise.resolve({ ok: true, errors: [], live: [], kept: [] });
    const reload = (scope: ReloadScope = 'config'): Promise<ReloadOutcome> => {
      reloading = reloading.then(() =>
        reloadConfig(
          {
            ...parts,
            configPath: opts.configPath,
            env: opts.env ?? process.env,
            config: () => config,
            setConfig: (next) => void (config = next),
            listeners,
            setAdmin: (next, keys) => {
              adminKeys = keys;
              app = makeApp(next, keys);
            },
            reloadWorkers: (next) => workers?.reload(next) ?? Promise.resolve([]),
          },
          scope,
        ),
      );
      return reloading;
    };

    let admin: HttpServerHandle | null = null;
    const peers: AskPeers | null = workerCount > 1 ? (kind, args, timeoutMs, pids) => workers?.askEach(kind, args, timeoutMs, pids) ?? Promise.resolve([]) : null;
    const inspect = inspectSources({ snapshot: holder.snapshot, health, config: () => config, tcp: proxy, udp: udpProxy, listeners, peers });
    const makeApp = (c: Config, keys: AdminKey[]) =>
      createAdminApp({
        store,
        config: c,
        adminKeys: keys,
        onChange: refresh,
        health,
        inspect,
        plugins: live.plugins,
        reloadPlugins: () => reload('plugins'),
        fleet,
        listeners: {
          configObjects: () => configListenerObjects(config),
          prepare: (id, value) => listeners.prepare(id, value),
          finish: () => listeners.finish(),
          servesPort: (port) => listeners.servesPort(port),
        },
      });
    // a reload swaps the app (keys, allow list, CORS); the server keeps its socket
    let app = makeApp(config, adminKeys);
    const serveAdmin = (): Promise<HttpServerHandle> =>
      serveHttp((req, info) => app(req, info), { ...config.admin.listen, maxBodyBytes: MAX_BODY_BYTES }).catch((err: unknown) => {
        const { host, port } = config.admin.listen;
        throw listenError(err, host, port, 'deployment.admin.admin_listen');
      });
    if (config.enableAdmin && !extraWorker) {
      admin = await serveAdmin();
      cleanup.push(() => admin?.close());
    }

    // apisix.status: readiness without a key, for load balancers and orchestrators (worker 0 only)
    let status: HttpServerHandle | null = null;
    const statusListen = extraWorker ? undefined : config.statusListen;
    const serveStatus = async (): Promise<HttpServerHandle | null> => {
      if (statusListen === undefined) return null;
      const { host, port } = statusListen;
      return serveHttp(createStatusApp(fleet), { host, port, maxBodyBytes: 0 }).catch((err: unknown) => {
        throw listenError(err, host, port, 'apisix.status');
      });
    };
    status = await serveStatus();
    cleanup.push(() => status?.close());

    logger.info('weir started', {
      runtime: detectRuntime(),
      pid: process.pid, // tells the workers' lines apart (they share worker 0's stderr)
      sqlite: db.driver,
      config: config.source,
      db: dbPath,
      tcp: proxy.listeners.map((l) => `${l.host}:${l.port}`).join(','),
      udp: udpProxy.listeners.map((l) => `${l.host}:${l.port}`).join(',') || undefined,
      admin: admin ? `${admin.host}:${admin.port}` : 'off',
      status: status ? `${status.host}:${status.port}` : undefined,
      role: config.fleet?.role,
      etcd: config.fleet?.endpoints.join(','),
      metrics: live.exportServer ? `${live.exportServer.host}:${live.exportServer.port}${config.metrics?.exportUri ?? ''}` : undefined,
      routes: holder.snapshot().routes.length,
      max_connections: caps.max,
      max_connections_from: caps.from,
      fd_limit: caps.fdLimit,
    });
    release.soon();

    const running: Workers = extraWorker
      ? watchPrimary(() => process.kill(process.pid, 'SIGTERM'), {
          listeners: (lists, mustBind) => local.apply(lists, mustBind),
          config: async (next) => {
            await applyWorkerConfig(parts, config, next);
            config = next;
          },
        })
      : startWorkers(workerCount, {
          onChild: shared === null ? undefined : (child) => shared.serve(child),
          onReady: () => void listeners.sync(),
        });
    workers = running;
    // `weir reload` and `weir upgrade` find worker 0 through this file
    const pidFile = pidFilePath(dbPath);
    if (!extraWorker) writePidFile(pidFile, process.pid);

    let stopped: Promise<void> | null = null;
    return {
      get config() {
        return config;
      },
      dbPath,
      store,
      proxy,
      udpProxy,
      get admin() {
        return admin;
      },
      get adminKeys() {
        return adminKeys;
      },
      listeners,
      health,
      get metrics() {
        return live.metrics;
      },
      get metricsServer() {
        return live.exportServer;
      },
      plugins: live,
      snapshot: holder.snapshot,
      holder,
      fleet,
      refresh,
      reload,
      async upgrade() {
        if (extraWorker) return { ok: false, error: 'only worker 0 (the process started by the user) upgrades' };
        const sockets: PassedSocket[] = [];
        for (const s of proxy.sockets()) if (s.fd !== undefined) sockets.push({ proto: 'tcp', host: s.host, port: s.port, fd: s.fd });
        for (const s of udpProxy.sockets()) if (s.fd !== undefined) sockets.push({ proto: 'udp', host: s.host, port: s.port, fd: s.fd });
        const outcome = await startUpgrade({
          command: selfCommand(),
          sockets,
          releaseAdmin: async () => {
            // requests in progress are answered; the ports are free for the new process at once
            const closing = Promise.all([admin?.close({ graceful: true }), live.releaseExport(), status?.close({ graceful: true })]);
            admin = null;
            status = null;
            await Promise.race([closing, new Promise((r) => setTimeout(r, 50))]);
          },
          restoreAdmin: async () => {
            if (config.enableAdmin && admin === null) admin = await serveAdmin();
            await live.serveExport();
            if (status === null) status = await serveStatus();
          },
        });
        if (!outcome.ok) return outcome;
        // the new process serves: stop accepting (the sockets live on in it) and leave the listeners alone; it
        // syncs from etcd now, and this one follows the file through its watcher while it drains
        followStore = false;
        await fleet?.stop();
        await proxy.stopAccepting();
        await udpProxy.release();
        return outcome;
      },
      stop(graceMs = config.shutdownGraceMs) {
        stopped ??= (async () => {
          const stoppingAt = Date.now();
          const workersStopped = running.stop(graceMs);
          followStore = false;
          release.stop();
          shadows.stop();
          await fleet?.stop();
          health.stop();
          names.stop();
          await admin?.close();
          await status?.close();
          await live.stop();
          // the store is still watched while connections drain: a route changed meanwhile (from the new process
          // after an upgrade, say) still applies its on_change to them
          await Promise.all([proxy.shutdown(graceMs), udpProxy.shutdown(graceMs), workersStopped]);
          // every log phase has run: queued syslog entries go out within the grace period's rest (FLUSH_FLOOR_MS at least)
          await compiler.dispose(Math.max(graceMs - (Date.now() - stoppingAt), Math.min(graceMs, FLUSH_FLOOR_MS)));
          watcher.stop();
          accessLog.close();
          store.close();
          if (!extraWorker) removePidFile(pidFile, process.pid);
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
 * How long a stop waits for logger plugins to send what they queued when the connections used up the grace
 * period (or more of it than is left); never more than the grace period itself.
 */
const FLUSH_FLOOR_MS = 1000;

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
