// `weir start`: wire config, store, snapshot, TCP proxy and Admin API together; also used in-process by tests.

import { dirname, resolve } from 'node:path';
import type { AdminKey, Config } from '../config/types';
import { loadConfig } from '../config/load';
import { openStore, type Store } from '../store/store';
import { buildSnapshot } from '../snapshot/build';
import type { Snapshot } from '../snapshot/types';
import { startTcpProxy, type TcpProxy } from '../proxy/listener/tcp';
import { createAdminApp, MAX_BODY_BYTES } from '../admin/index';
import { AccessLog, logger } from '../log/logger';
import { createTcpDataPlane, detectRuntime, openSqlite, serveHttp } from '../runtime/index';
import type { HttpServerHandle } from '../runtime/types';
import { ensureAdminKey } from './admin-key';
import { listenError } from '../lib/listen-error';

/** A running weir instance. */
export interface Weir {
  readonly config: Config;
  readonly store: Store;
  readonly proxy: TcpProxy;
  readonly admin: HttpServerHandle | null;
  readonly adminKeys: readonly AdminKey[];
  /** The snapshot new connections use now. */
  snapshot(): Snapshot;
  /** Rebuild the snapshot from the store (after a write by this process). */
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
}

/** Start weir. Rejects with ConfigError (bad config) or an Error naming the address (listen failure). */
export async function startWeir(opts: StartOptions): Promise<Weir> {
  const { config, warnings } = loadConfig(opts.configPath, opts.env);
  for (const warning of warnings) logger.warn(warning);

  const dbPath = resolve(config.sqlite.path);
  const store = openStore(dbPath, { db: openSqlite(dbPath) });
  const cleanup: Array<() => Promise<void> | void> = [() => store.close()];
  try {
    const adminKeys = ensureAdminKey(config, dirname(dbPath));
    const accessLog =
      opts.accessLog ??
      new AccessLog(config.log.access.enabled ? { path: config.log.access.path } : { disabled: true });
    cleanup.push(() => accessLog.close());

    const rebuild = snapshotBuilder(store);
    let current = rebuild(null);
    const refresh = (): void => {
      current = rebuild(current);
    };

    if (config.stream.udp.length > 0) {
      // TODO(UDP issue): serve apisix.stream_proxy.udp.
      logger.warn('UDP listeners are not served yet; apisix.stream_proxy.udp is ignored', {
        listeners: config.stream.udp.map((l) => l.origin).join(','),
      });
    }

    const proxy = await startTcpProxy({
      plane: createTcpDataPlane(),
      listeners: config.stream.tcp,
      snapshot: () => current,
      accessLog,
    });
    cleanup.push(() => proxy.shutdown(0));

    let admin: HttpServerHandle | null = null;
    if (config.enableAdmin) {
      const app = createAdminApp({ store, config, adminKeys, onChange: refresh });
      admin = await serveHttp(app, { ...config.admin.listen, maxBodyBytes: MAX_BODY_BYTES }).catch((err: unknown) => {
        const { host, port } = config.admin.listen;
        throw listenError(err, host, port, 'deployment.admin.admin_listen');
      });
      cleanup.push(() => admin?.close());
    }

    logger.info('weir started', {
      runtime: detectRuntime(),
      config: config.source,
      db: dbPath,
      tcp: proxy.listeners.map((l) => `${l.host}:${l.port}`).join(','),
      admin: admin ? `${admin.host}:${admin.port}` : 'off',
      routes: current.routes.length,
    });

    let stopped: Promise<void> | null = null;
    return {
      config,
      store,
      proxy,
      admin,
      adminKeys,
      snapshot: () => current,
      refresh,
      stop(graceMs = config.shutdownGraceMs) {
        stopped ??= (async () => {
          await admin?.close();
          await proxy.shutdown(graceMs);
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
 * Rebuilds the snapshot from the store. Problems (skipped rows, routes that cannot forward) are logged when
 * they first appear, not again on every rebuild: with many broken rows each write would flood the log.
 */
function snapshotBuilder(store: Store): (prev: Snapshot | null) => Snapshot {
  let known = new Set<string>();
  return (prev) => {
    const { snapshot, problems } = buildSnapshot(store.readAll(), prev);
    const now = new Set(problems);
    for (const problem of now) if (!known.has(problem)) logger.warn(problem);
    known = now;
    return snapshot;
  };
}
