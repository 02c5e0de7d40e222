// Config reload (SIGHUP, `weir reload`): read the config file again, check all of it, and only then apply the
// difference: the prometheus export server's new address and listeners on every worker first (the steps that
// can fail: a port may be taken), then keyring, admin keys, access log, timeouts and the stream plugins. Any error
// leaves the old config serving. No open connection is cut: config listeners that go away are unbound with the
// default policy, keep. PUT /apisix/admin/plugins/reload runs the same reload restricted to the plugin keys.

import { openSync, closeSync } from 'node:fs';
import type { AdminKey, Config } from '../config/types';
import { loadConfig } from '../config/load';
import type { AccessLog } from '../log/logger';
import { logger } from '../log/logger';
import type { TcpProxy } from '../proxy/listener/tcp';
import type { UdpProxy } from '../proxy/listener/udp';
import { ensureKeyring } from '../store/keyring-file';
import type { Keyring } from '../store/keyring';
import type { Store } from '../store/types';
import { ensureAdminKey } from '../cli/admin-key';
import { diffConfig } from './config-diff';
import type { ListenerSync } from './listener-sync';
import type { LivePlugins, PluginStep } from './live-plugins';
import { withPluginKeys } from './plugin-diff';

/** What a reload did; also what `weir reload` prints (src/control/pid-file.ts carries it over). */
export interface ReloadOutcome {
  ok: boolean;
  /** Why the new config was refused (each problem found): nothing changed. */
  errors: string[];
  /** Settings that changed live. */
  live: string[];
  /** Settings that differ but keep their old value (need a restart or `weir upgrade`). */
  kept: string[];
}

/** The parts of one process a config reaches, besides its listeners. */
export interface RuntimeParts {
  store: Store;
  /** Directory of the database: the generated keyring and admin key files live there. */
  dataDir: string;
  accessLog: AccessLog;
  proxy: TcpProxy;
  udpProxy: UdpProxy;
  /** stream_plugins, plugin_attr and the metrics hanging off them. */
  plugins: LivePlugins;
}

/** The keyring `next` asks for, when it differs from `prev`'s (undefined: unchanged). */
function keyringChange(parts: RuntimeParts, prev: Config, next: Config): Keyring | null | undefined {
  const same = JSON.stringify([prev.tls?.keyring ?? null, prev.tls?.encryptionEnabled ?? true]) === JSON.stringify([next.tls?.keyring ?? null, next.tls?.encryptionEnabled ?? true]);
  return same ? undefined : ensureKeyring(next.tls, parts.dataDir);
}

/**
 * Apply everything of `next` but the listeners to this process, with the plugin step prepared for it
 * (LivePlugins.prepare). Worker 0 runs it after checking (see reloadConfig); the other workers run it when worker
 * 0 hands them the config (applyWorkerConfig).
 */
export function applyRuntimeConfig(parts: RuntimeParts, prev: Config, next: Config, plugins: PluginStep): void {
  const ring = keyringChange(parts, prev, next);
  if (ring !== undefined) parts.store.setKeyring(ring);
  if (JSON.stringify(prev.log.access) !== JSON.stringify(next.log.access)) {
    parts.accessLog.reconfigure(next.log.access.enabled ? { path: next.log.access.path } : { disabled: true });
  }
  parts.proxy.setTls({
    fallbackSni: next.tls?.fallbackSni ?? null,
    prereadTimeoutMs: next.tls?.prereadTimeoutMs,
    handshakeTimeoutMs: next.tls?.handshakeTimeoutMs,
  });
  // the table's cap, proxy_responses and the limits on new sessions; open sessions stay
  parts.udpProxy.setSettings(next.udp);
  parts.plugins.commit(plugins);
}

/** An extra worker: apply the config worker 0 reloaded (its listeners come apart). Rejects when the plugins cannot. */
export async function applyWorkerConfig(parts: RuntimeParts, prev: Config, next: Config): Promise<void> {
  applyRuntimeConfig(parts, prev, next, await parts.plugins.prepare(prev, next));
}

/** What a reload reads from the file: all of it, or (PUT /apisix/admin/plugins/reload) stream_plugins and plugin_attr only. */
export type ReloadScope = 'config' | 'plugins';

export interface ReloadDeps extends RuntimeParts {
  /** The file weir was started with (null: conf/config.yaml or the embedded default, as at start). */
  configPath: string | null;
  env: Record<string, string | undefined>;
  config(): Config;
  setConfig(next: Config): void;
  listeners: ListenerSync;
  /** Worker 0: serve the Admin API with these settings and keys from the next request on. */
  setAdmin(next: Config, keys: AdminKey[]): void;
  /** Hand the config to the other workers; one error text per worker that failed. */
  reloadWorkers(next: Config): Promise<string[]>;
}

/**
 * Re-read and apply the config (`scope` plugins: only its plugin keys, the rest of the config in force staying as
 * it is). Never throws: problems come back in the outcome (and are logged, each). Callers run one reload at a time.
 */
export async function reloadConfig(d: ReloadDeps, scope: ReloadScope = 'config'): Promise<ReloadOutcome> {
  const refuse = (errors: string[]): ReloadOutcome => {
    for (const e of errors) logger.error('reload refused; the old config keeps serving', { error: e });
    return { ok: false, errors, live: [], kept: [] };
  };
  let next: Config;
  try {
    const loaded = loadConfig(d.configPath, d.env);
    for (const w of loaded.warnings) logger.warn(w);
    next = loaded.config;
  } catch (err) {
    return refuse([(err as Error).message]);
  }
  const prev = d.config();
  if (scope === 'plugins') next = withPluginKeys(prev, next);
  const diff = diffConfig(prev, next);
  const eff = diff.effective;

  // everything that can fail is checked before anything changes
  const errors: string[] = [];
  let keys: AdminKey[] = [];
  try {
    const ring = keyringChange(d, prev, eff);
    if (ring !== undefined) d.store.verifyKeyring(ring);
  } catch (err) {
    errors.push((err as Error).message);
  }
  try {
    keys = ensureAdminKey(eff, d.dataDir);
  } catch (err) {
    errors.push(`deployment.admin.admin_key: ${(err as Error).message}`);
  }
  const log = eff.log.access;
  if (log.enabled && log.path !== null && JSON.stringify(log) !== JSON.stringify(prev.log.access)) {
    try {
      closeSync(openSync(log.path, 'a'));
    } catch (err) {
      errors.push(`nginx_config.stream.access_log: cannot open ${log.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (errors.length > 0) return refuse(errors);
  let plugins: PluginStep;
  try {
    plugins = await d.plugins.prepare(prev, eff);
  } catch (err) {
    return refuse([(err as Error).message]);
  }
  try {
    await d.listeners.applyConfig(eff, () => {
      applyRuntimeConfig(d, prev, eff, plugins);
      d.setAdmin(eff, keys);
      d.setConfig(eff);
    });
  } catch (err) {
    d.plugins.abort(plugins);
    return refuse([(err as Error).message]);
  }
  const workerErrors = await d.reloadWorkers(eff);
  for (const e of workerErrors) logger.error('reload: a worker could not apply the new config', { error: e });
  for (const k of diff.kept) logger.warn('reload: not changed live', { setting: k });
  logger.info('config reloaded', { changed: diff.live.join(', ') || 'nothing', source: eff.source });
  return { ok: workerErrors.length === 0, errors: workerErrors, live: diff.live, kept: diff.kept };
}
