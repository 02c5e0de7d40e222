// Route `plugins` -> the route's FilterChain, at snapshot build (BuildDeps.compileFilters). A route's chain is
// reused by the next build while its row text (service merged in), the plugin_metadata of its plugins and the
// upstream objects it names are unchanged, so unchanged routes keep their filters (and their counters, buckets
// and round-robin positions). Disabled (`_meta.disable`) and not-enabled plugins are left out. A reload of the
// plugin keys (reconfigure) drops the cached chains of routes naming a plugin it changed, so they compile again.
// After each swap (afterSwap) the filters of chains no longer served are disposed and the metrics drop the
// series of routes and nodes no longer served; at shutdown dispose() releases the rest, bounded in time.

import { type JsonObject, isPlainObject } from '../lib/json';
import { buildChain } from '../proxy/filter/chain';
import { findRoute } from '../proxy/match/index-update';
import { type FilterChain, NO_FILTERS, type StreamFilter } from '../proxy/filter/types';
import { validateStreamRoute } from '../schema/index';
import { compileUpstream, schemaDeps, type BuildDeps } from '../snapshot/build';
import { attachUpstreamTls, type SslLookup } from '../snapshot/ssl';
import { isResolvedAgain, reexpandUpstream } from '../snapshot/resolve';
import type { AddressesOf } from '../dns/expand';
import type { CachedUpstream, CompiledUpstream, Snapshot } from '../snapshot/types';
import type { StoreContents, StoredObject } from '../store/types';
import { logger } from '../log/logger';
import type { PluginMetrics, ServedRoute } from '../metrics/types';
import type { ConnCounters } from './conn-counters';
import type { PluginSet } from './registry';
import { isDisabled } from './schema';
import type { PluginCompileContext } from './types';

/** What the snapshot build hands compileFilters besides the route (the state of the build at that route). */
export interface FilterBuildView {
  /** Upstream objects compiled so far in this build, by key ("/apisix/upstreams/1"). */
  readonly upstreams: { get(key: string): CachedUpstream | undefined };
  readonly ssls: SslLookup;
  readonly trustedCa: string | null;
  /** The current addresses of node names (the build's BuildDeps.addressesOf): inline upstreams are expanded with it. */
  readonly addressesOf?: AddressesOf;
  /** The build's problem list: compile problems go there, prefixed with the route. */
  readonly problems: string[];
}

interface CachedChain {
  /** The route row's text, and the plugin_metadata texts of its plugins. */
  text: string;
  /** The plugin names the route's `plugins` map has, enabled or not (reconfigure drops chains by them). */
  names: string[];
  meta: string;
  /** Upstream objects the chain holds, by id, as they were when compiled: any change recompiles. */
  deps: Array<[string, CompiledUpstream | null]>;
  /** Inline upstreams the chain holds that name hosts: compiled again when those names' addresses change. */
  named: CompiledUpstream[];
  chain: FilterChain;
  problems: string[];
}

/** Where route keys start ("/apisix/stream_routes/<id>"). */
const ROUTE_PREFIX = '/apisix/stream_routes/';

interface CachedInline {
  text: string;
  entry: CachedUpstream;
}

/** A chain that refuses every connection: a plugin that failed to compile must not be silently missing. */
function refuseAll(plugin: string, why: string): FilterChain {
  const filter: StreamFilter = { name: plugin, priority: Number.MAX_SAFE_INTEGER, access: () => ({ code: 500, reason: `${plugin} failed to compile: ${why}` }) };
  return buildChain([filter]);
}

/**
 * One per process: compiles route plugins for every build and keeps the previous build's chains.
 * beginBuild() runs before each build (it takes the plugin_metadata rows and ages the caches).
 */
export class FilterCompiler {
  private chains = new Map<string, CachedChain>();
  private oldChains = new Map<string, CachedChain>();
  private inline = new Map<string, CachedInline>();
  private oldInline = new Map<string, CachedInline>();
  private metadata = new Map<string, StoredObject>();
  /**
   * Chains (with filters) the last swapped-in snapshot serves, by route key: what afterSwap compares the next
   * one with. A chain belongs to one route key (compile makes and reuses chains per key), so a key's chain
   * that changed or went away is no longer served anywhere.
   */
  private served = new Map<string, FilterChain>();
  /** Filters whose dispose ran (each runs once). */
  private readonly disposed = new WeakSet<StreamFilter>();
  /** Disposals still at work (a syslog queue being sent): shutdown waits for them, bounded. */
  private readonly draining = new Set<Promise<void>>();

  /** Build deps for buildSnapshot: stored routes validated with the enabled plugins, unknown ones skipped. */
  readonly deps: BuildDeps;
  private enabled: PluginSet;

  constructor(
    plugins: PluginSet,
    private readonly counters: ConnCounters,
    private pluginAttr: Readonly<Record<string, JsonObject>> = {},
    /** The process's metrics when the prometheus export server runs (PluginCompileContext.metrics). */
    private metrics: PluginMetrics | null = null,
  ) {
    this.enabled = plugins;
    this.deps = {
      ...schemaDeps,
      // read at each call: a reload's set applies from the next build on
      validateStreamRoute: (body) => validateStreamRoute(body, { plugins: this.enabled, skipUnknown: true }),
      compileFilters: (route, row, key, build) => this.compile(route, row, key, build),
    };
  }

  /** The enabled stream plugins the builds use now. */
  get plugins(): PluginSet {
    return this.enabled;
  }

  /**
   * A reload changed stream_plugins or plugin_attr (src/control/live-plugins.ts): later builds validate and
   * compile with these. Cached chains of routes naming a plugin in `recompile` (every chain with 'all') are
   * dropped, so the next build, which the caller runs at once, compiles them again; the others are reused and
   * keep their state. Chains no longer served are disposed by that build's afterSwap, as after any change.
   */
  reconfigure(plugins: PluginSet, pluginAttr: Readonly<Record<string, JsonObject>>, metrics: PluginMetrics | null, recompile: 'all' | readonly string[]): void {
    this.enabled = plugins;
    this.pluginAttr = pluginAttr;
    this.metrics = metrics;
    const stale = recompile === 'all' ? null : new Set(recompile);
    for (const cache of [this.chains, this.oldChains]) {
      for (const [key, entry] of cache) if (stale === null || entry.names.some((n) => stale.has(n))) cache.delete(key);
    }
  }

  /** Before a build: the plugin_metadata rows of this read, and a new cache generation. */
  beginBuild(contents: StoreContents): void {
    this.metadata = new Map((contents.pluginMetadata ?? []).map((row) => [row.id, row]));
    this.oldChains = this.chains;
    this.chains = new Map();
    this.oldInline = this.inline;
    this.inline = new Map();
  }

  private metaText(plugins: JsonObject): string {
    if (this.metadata.size === 0) return '';
    let text = '';
    for (const name of Object.keys(plugins)) {
      const row = this.metadata.get(name);
      if (row !== undefined) text += `${name}\n${row.raw}\n`;
    }
    return text;
  }

  /** BuildDeps.compileFilters: the route's chain, reused when nothing it depends on changed. */
  compile(route: JsonObject, row: StoredObject, key: string, build: FilterBuildView): FilterChain {
    const plugins = route.plugins;
    if (!isPlainObject(plugins) || Object.keys(plugins).length === 0) return NO_FILTERS;
    const meta = this.metaText(plugins);
    const upstreamById = (id: string): CompiledUpstream | null => build.upstreams.get(`/apisix/upstreams/${id}`)?.upstream ?? null;
    const old = this.chains.get(key) ?? this.oldChains.get(key);
    const addressesOf = build.addressesOf;
    const resolvedAgain = (up: CompiledUpstream): boolean => addressesOf !== undefined && isResolvedAgain(up, addressesOf);
    if (old !== undefined && old.text === row.raw && old.meta === meta && old.deps.every(([id, up]) => upstreamById(id) === up) && !old.named.some(resolvedAgain)) {
      this.chains.set(key, old);
      this.keepInline(key);
      for (const p of old.problems) build.problems.push(p);
      return old.chain;
    }
    const entry: CachedChain = { text: row.raw, meta, names: Object.keys(plugins), deps: [], named: [], chain: NO_FILTERS, problems: [] };
    const ctx: PluginCompileContext = {
      routeKey: key,
      routeId: row.id,
      route,
      upstreamById: (id) => {
        const up = upstreamById(id);
        entry.deps.push([id, up]);
        return up;
      },
      compileUpstream: (upKey, value) => this.compileInline(upKey, value, build, entry),
      metadata: (name) => (this.metadata.get(name)?.value ?? null),
      attr: (name) => this.pluginAttr[name] ?? null,
      counters: this.counters,
      metrics: this.metrics,
      // "stream_routes/1: ...", or "services/edge: ..." when weir check compiles a service on its own
      problem: (message) => void entry.problems.push(`${key.replace(/^\/apisix\//, '')}: ${message}`),
    };
    const filters: StreamFilter[] = [];
    for (const name of Object.keys(plugins)) {
      const conf = plugins[name];
      if (!isPlainObject(conf) || isDisabled(conf)) continue;
      const plugin = this.enabled.get(name);
      if (plugin === undefined) {
        ctx.problem(`plugin ${name} is not in stream_plugins; the route runs without it`);
        continue;
      }
      try {
        filters.push(plugin.compile(conf, ctx));
      } catch (err) {
        const why = (err as Error).message;
        ctx.problem(`plugin ${name} failed to compile, connections are refused: ${why}`);
        entry.chain = refuseAll(name, why);
        break;
      }
    }
    if (entry.chain === NO_FILTERS) entry.chain = buildChain(filters);
    this.chains.set(key, entry);
    for (const p of entry.problems) build.problems.push(p);
    return entry.chain;
  }

  /**
   * After the holder swapped `next` in (every build: full, incremental, DNS). Chains the previous snapshot
   * served and `next` does not are disposed and forgotten by the cache; the metrics keep the series of what
   * `next` serves and drop the rest. `routeKeys` (BuildResult.routeKeys): the routes an incremental build
   * linked again or removed, the only ones whose chain may have changed; only those are looked at, unless the
   * metrics run (they are handed every served route). Null: a full build, one pass over the route index.
   * Nothing to do while no route has plugins.
   */
  afterSwap(next: Snapshot, routeKeys: readonly string[] | null = null): void {
    if (this.served.size === 0 && this.chains.size === 0) return;
    const retired: Array<[string, FilterChain]> = [];
    if (routeKeys !== null && this.metrics === null) {
      for (const key of routeKeys) {
        const before = this.served.get(key);
        const route = key.startsWith(ROUTE_PREFIX) ? findRoute(next.routeIndex, key.slice(ROUTE_PREFIX.length)) : undefined;
        const chain = route?.filters ?? NO_FILTERS;
        if (chain === NO_FILTERS) this.served.delete(key);
        else this.served.set(key, chain);
        if (before !== undefined && before !== chain) retired.push([key, before]);
      }
    } else {
      const live = new Map<string, FilterChain>();
      const metered: ServedRoute[] = [];
      for (const entry of next.routeIndex.entries) {
        const route = entry.route;
        const chain = route.filters;
        if (chain === NO_FILTERS) continue;
        live.set(route.key, chain);
        if (this.metrics !== null) metered.push({ id: route.id, meter: chain.meter ?? null, upstreams: chain.upstreams === undefined ? [route.upstream] : [route.upstream, ...chain.upstreams] });
      }
      for (const [key, chain] of this.served) if (live.get(key) !== chain) retired.push([key, chain]);
      this.served = live;
      this.metrics?.retain(metered);
    }
    // a retired chain is cached only under its own route key
    for (const [key, chain] of retired) {
      for (const cache of [this.chains, this.oldChains]) if (cache.get(key)?.chain === chain) cache.delete(key);
    }
    for (const [, chain] of retired) this.disposeChain(chain);
  }

  /**
   * At shutdown, after the proxies stopped (every log phase has run): dispose every filter still held and wait
   * for their work (syslog queues being sent) for at most `withinMs`. Never rejects.
   */
  async dispose(withinMs: number): Promise<void> {
    for (const chain of this.served.values()) this.disposeChain(chain);
    for (const cache of [this.chains, this.oldChains]) for (const entry of cache.values()) this.disposeChain(entry.chain);
    if (this.draining.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, withinMs))));
    await Promise.race([Promise.all([...this.draining]), deadline]);
    clearTimeout(timer);
  }

  /** Run the dispose hooks of a chain's filters (once each); a pending one is tracked until it settles. */
  private disposeChain(chain: FilterChain): void {
    for (const filter of chain.disposable ?? []) {
      if (this.disposed.has(filter)) continue;
      this.disposed.add(filter);
      let done: void | Promise<void>;
      try {
        done = filter.dispose!();
      } catch (err) {
        logger.error('stream filter dispose failed', { filter: filter.name, error: (err as Error)?.message ?? String(err) });
        continue;
      }
      if (!(done instanceof Promise)) continue;
      const tracked: Promise<void> = done.then(
        () => void this.draining.delete(tracked),
        (err: unknown) => {
          this.draining.delete(tracked);
          logger.error('stream filter dispose failed', { filter: filter.name, error: (err as Error)?.message ?? String(err) });
        },
      );
      this.draining.add(tracked);
    }
  }

  /** A reused chain keeps its inline upstreams in the cache too (their keys start with the route key). */
  private keepInline(routeKey: string): void {
    const prefix = `${routeKey}#`;
    for (const [k, v] of this.oldInline) if (k.startsWith(prefix)) this.inline.set(k, v);
  }

  /**
   * An upstream inside a plugin conf, compiled like a route's inline one (node names expanded to the addresses
   * known now); reused while its text holds, with its names expanded again when their addresses changed.
   */
  private compileInline(key: string, value: JsonObject, build: FilterBuildView, entry: CachedChain): CompiledUpstream | null {
    const text = JSON.stringify(value);
    const old = this.inline.get(key) ?? this.oldInline.get(key);
    const addressesOf = build.addressesOf;
    let cached: CachedUpstream;
    if (old !== undefined && old.text === text) {
      cached = old.entry;
      const again = cached.upstream === null || addressesOf === undefined ? null : reexpandUpstream(cached.upstream, addressesOf);
      if (again !== null) cached = { ...cached, upstream: again };
    } else {
      const deps = addressesOf === undefined ? schemaDeps : { ...schemaDeps, addressesOf };
      const compiled = { ...compileUpstream(key, value, deps, old?.entry.upstream ?? null), source: text };
      cached = attachUpstreamTls(compiled, value, build.ssls, build.trustedCa);
    }
    this.inline.set(key, { text, entry: cached });
    if (cached.upstream === null) entry.problems.push(`${key.replace(/^\/apisix\//, '')}: ${cached.problems[0] ?? 'upstream cannot be used'}`);
    else if (cached.upstream.named !== undefined) entry.named.push(cached.upstream);
    return cached.upstream;
  }
}
