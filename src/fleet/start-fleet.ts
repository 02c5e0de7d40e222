// Fleet mode at start (deployment.role data_plane): the etcd client, the SQLite side and the sync loop, wired.
// Imported by src/cli/start.ts only when config.fleet is set, so a traditional weir never loads any of it.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config, FleetSettings } from '../config/types';
import { ConfigError } from '../config/types';
import type { SqlDb } from '../runtime/types';
import { loadHttpClient } from '../runtime/index';
import type { Store } from '../store/types';
import type { PluginSet } from '../plugins/registry';
import { EtcdClient } from './etcd-client';
import { FleetStore } from './fleet-store';
import { FleetSync } from './sync';
import { ControlPlaneWriter } from './control-plane';
import { APISIX_DEFAULT_KEYRING } from './apisix-crypto';
import type { FleetView } from './view';
import type { FleetMetricsSource } from '../metrics/stream-metrics';

export interface Fleet extends FleetView {
  /** The sync loop's figures for the prometheus export (src/metrics/stream-metrics.ts). */
  metrics(): FleetMetricsSource;
  stop(): Promise<void>;
}

function readPem(path: string | null, key: string): string | undefined {
  if (path === null) return undefined;
  try {
    return readFileSync(resolve(path), 'utf8');
  } catch (err) {
    throw new ConfigError(key, `cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The etcd client for these settings (the CA is apisix.ssl.ssl_trusted_certificate's, already loaded). */
export async function createEtcdClient(settings: FleetSettings, trustedCa: string | null): Promise<EtcdClient> {
  return new EtcdClient({
    endpoints: settings.endpoints,
    user: settings.user,
    password: settings.password,
    timeoutMs: settings.timeoutMs,
    tls: {
      verify: settings.tls.verify,
      ...(trustedCa === null ? {} : { ca: trustedCa }),
      ...(settings.tls.sni === null ? {} : { servername: settings.tls.sni }),
      cert: readPem(settings.tls.cert, 'deployment.etcd.tls.cert'),
      key: readPem(settings.tls.key, 'deployment.etcd.tls.key'),
    },
    http: await loadHttpClient(),
  });
}

/** The keyring that opens private keys found in etcd: weir's configured one, else APISIX's default. */
export function etcdKeyring(config: Config): readonly string[] {
  return config.tls?.keyring ?? APISIX_DEFAULT_KEYRING;
}

/**
 * Start fleet mode: the sync loop runs in the background (weir already serves from SQLite); a control plane
 * also writes Admin API changes through etcd.
 * `onApplied` rebuilds the snapshot after each commit the loop makes.
 */
export async function startFleet(opts: {
  config: Config;
  store: Store;
  db: SqlDb;
  trustedCa: string | null;
  /** The enabled stream plugins now (a reload may change them): objects from etcd are validated with them. */
  plugins: () => PluginSet;
  onApplied: () => void;
}): Promise<Fleet> {
  const settings = opts.config.fleet!;
  const fleetStore = new FleetStore(opts.store, opts.db);
  const client = await createEtcdClient(settings, opts.trustedCa);
  const keyring = etcdKeyring(opts.config);
  const sync = new FleetSync({
    client,
    store: fleetStore,
    prefix: settings.prefix,
    watchTimeoutMs: settings.watchTimeoutMs,
    // read at each decode: a plugin reload applies to the next objects from etcd
    decode: {
      get plugins() {
        return opts.plugins();
      },
      keyring,
    },
    onApplied: opts.onApplied,
  });
  sync.start();
  // a control plane serves its own traffic from its copy like a data plane, and writes through etcd
  const writer = settings.role === 'control_plane' ? new ControlPlaneWriter(client, sync, settings.prefix, keyring) : null;
  return {
    role: settings.role,
    endpoints: settings.endpoints,
    readOnly: writer === null,
    ...(writer === null ? {} : { writeThrough: (method, rehearse, store) => writer.write(method, rehearse, store) }),
    status: () => sync.status(),
    ready: () => sync.ready(),
    originOf: (res, id) => fleetStore.originOf(res, id),
    metrics: () => {
      const { stale_since } = sync.status();
      return {
        revision: sync.status().revision,
        staleSeconds: stale_since === null ? 0 : Math.max(0, (Date.now() - Date.parse(stale_since)) / 1000),
        ready: sync.ready(),
        ...sync.counts,
      };
    },
    stop: () => sync.stop(),
  };
}
