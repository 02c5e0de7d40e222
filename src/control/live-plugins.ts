// The stream plugins in force in one process, and what hangs off them: the enabled set (Admin API validation and
// the plugin compiler), the metrics (on while stream_plugins lists prometheus) and, on worker 0, the prometheus
// export server. A reload (SIGHUP, `weir reload`, PUT /apisix/admin/plugins/reload) changes them in two steps,
// as APISIX's plugin.load() does on every worker: prepare does what can fail (binding the export server's new
// address) and changes nothing in force; commit swaps the set and the metrics, recompiles the chains of the
// routes naming a changed plugin and rebuilds the snapshot. abort undoes a prepare whose reload was refused.

import type { Config, MetricsSettings } from '../config/types';
import type { JsonObject } from '../lib/json';
import { logger } from '../log/logger';
import type { ExportServerOptions } from '../metrics/export-server';
import type { StreamMetrics } from '../metrics/stream-metrics';
import type { FlowMetrics } from '../metrics/types';
import type { FilterCompiler } from '../plugins/compile';
import { pluginSetOf, type PluginSet } from '../plugins/registry';
import type { HttpServerHandle } from '../runtime/types';
import { diffPlugins, type PluginChange } from './plugin-diff';

/** A flow reporting to the metrics (TcpFlow, UdpFlow). */
export interface MetricsReporter {
  setMetrics(metrics: FlowMetrics | null): void;
}

export interface LivePluginsOptions {
  /** The config at start. */
  config: Config;
  /** Built with the config's plugin set (read from it here) and metrics. */
  compiler: FilterCompiler;
  /** The metrics made at start (config.metrics set), or null. */
  metrics: StreamMetrics | null;
  /** Make the metrics when a reload turns them on or renews them, wired as at start (health, listeners, fleet). */
  createMetrics(settings: MetricsSettings): Promise<StreamMetrics>;
  /** The flows: told when the metrics object changes. */
  flows: readonly MetricsReporter[];
  /** Build the served snapshot from every row and apply it (after the compiler changed). */
  rebuild(): void;
  /** Worker 0: the export server's scrapes add the other workers' families. Absent: this process serves no export. */
  askWorkers?: ExportServerOptions['askWorkers'];
}

/** What prepare found and made; commit or abort takes it. */
export interface PluginStep {
  readonly change: PluginChange;
  readonly next: Config;
  readonly plugins: PluginSet;
  readonly metrics: StreamMetrics | null;
  /** The export server bound at the new export_addr (start, move), until commit swaps it in or abort closes it. */
  readonly bound: ExportSeat | null;
}

interface ExportSeat {
  handle: HttpServerHandle;
  /** Read per request: a reload changing only export_uri updates `uri` here. */
  opts: ExportServerOptions;
}

const closeQuietly = (handle: HttpServerHandle): void =>
  void handle.close({ graceful: true }).catch((err: unknown) => logger.warn('metrics export server did not close cleanly', { error: (err as Error).message }));

export class LivePlugins {
  private set: PluginSet;
  private current: StreamMetrics | null;
  private settings: MetricsSettings | null;
  private seat: ExportSeat | null = null;

  constructor(private readonly opts: LivePluginsOptions) {
    this.set = opts.compiler.plugins;
    this.current = opts.metrics;
    this.settings = opts.config.metrics ?? null;
  }

  /** The enabled stream plugins now: what routes and services may name. */
  get plugins(): PluginSet {
    return this.set;
  }

  /** This process's metrics now, or null while prometheus is not listed (or its export server is off). */
  get metrics(): StreamMetrics | null {
    return this.current;
  }

  /** The export server, or null (off, an extra worker, or released for a binary upgrade). */
  get exportServer(): HttpServerHandle | null {
    return this.seat?.handle ?? null;
  }

  /** Worker 0, at start and when a failed upgrade gives the port back: serve the export if it is on. Rejects naming the address. */
  async serveExport(): Promise<void> {
    if (this.seat !== null || this.settings === null || this.current === null || this.opts.askWorkers === undefined) return;
    this.seat = await this.bind(this.settings);
  }

  /** A binary upgrade: close the export server (requests in progress are answered) so the new process binds it. */
  releaseExport(): Promise<void> {
    const seat = this.seat;
    this.seat = null;
    return seat === null ? Promise.resolve() : seat.handle.close({ graceful: true });
  }

  /**
   * First step of a reload, before anything changes: the new set, the new metrics if they turn on or are renewed,
   * and on worker 0 the export server bound at its new address. Rejects (naming
   * plugin_attr.prometheus.export_addr) when that address cannot be bound; nothing is left bound then.
   */
  async prepare(prev: Config, next: Config): Promise<PluginStep> {
    const change = diffPlugins(prev, next);
    if (!change.changed) return { change, next, plugins: this.set, metrics: this.current, bound: null };
    const plugins = pluginSetOf(next);
    let metrics = this.current;
    if (change.metrics === 'stop') metrics = null;
    else if (change.metrics !== 'keep') metrics = await this.opts.createMetrics(next.metrics!);
    const serves = this.opts.askWorkers !== undefined && metrics !== null;
    const bound = serves && (change.exportServer === 'start' || change.exportServer === 'move') ? await this.bind(next.metrics!) : null;
    return { change, next, plugins, metrics, bound };
  }

  /**
   * Second step, once the reload can no longer fail: from here on the Admin API (given `plugins`) and every build
   * use the new set; the chains of routes naming a changed plugin are compiled again and the snapshot swapped.
   * Stored routes naming a plugin no longer listed keep serving without it (as APISIX's stream_filter skips
   * plugins it has not loaded); the build reports each once. Synchronous; closing an old export server is not
   * waited for.
   */
  commit(step: PluginStep): void {
    if (!step.change.changed) return;
    this.warnUnknown(step.next, step.plugins);
    this.set = step.plugins;
    if (step.metrics !== this.current) {
      this.current = step.metrics;
      for (const flow of this.opts.flows) flow.setMetrics(step.metrics);
    }
    this.settings = step.next.metrics ?? null;
    this.opts.compiler.reconfigure(step.plugins, (step.next.pluginAttr ?? {}) as Record<string, JsonObject>, step.metrics, step.change.recompile);
    const old = this.seat;
    if (step.bound !== null) {
      this.seat = step.bound;
      if (old !== null) closeQuietly(old.handle);
    } else if (this.settings === null || step.metrics === null) {
      this.seat = null;
      if (old !== null) closeQuietly(old.handle);
    } else if (old !== null) {
      old.opts.uri = this.settings.exportUri;
    }
    this.opts.rebuild();
    if (step.change.exportServer !== 'keep' || step.bound !== null) this.logExport();
  }

  /** The reload was refused after prepare: close what it bound (nothing once commit took it). */
  abort(step: PluginStep): void {
    if (step.bound !== null && step.bound !== this.seat) closeQuietly(step.bound.handle);
  }

  /** At stop. */
  async stop(): Promise<void> {
    await this.seat?.handle.close();
    this.seat = null;
  }

  private async bind(settings: MetricsSettings): Promise<ExportSeat> {
    const opts: ExportServerOptions = {
      addr: settings.exportAddr,
      uri: settings.exportUri,
      // the metrics in force at each scrape: a reload that renews them needs no new server
      collect: () => this.current?.collect() ?? [],
      askWorkers: this.opts.askWorkers,
    };
    const { startExportServer } = await import('../metrics/export-server');
    return { handle: await startExportServer(opts), opts };
  }

  /** The names of a config's stream_plugins that weir has no module for; start-up and each reload warn. */
  private warnUnknown(config: Config, set: PluginSet): void {
    if (config.streamPlugins) for (const name of set.unknown) logger.warn('stream_plugins: weir has no such stream plugin (ignored)', { plugin: name });
  }

  private logExport(): void {
    const seat = this.seat;
    if (seat === null) logger.info('metrics export server stopped');
    else logger.info('metrics export server serving', { metrics: `${seat.handle.host}:${seat.handle.port}${seat.opts.uri}` });
  }
}
