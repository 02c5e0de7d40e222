// Store rows -> frozen Snapshot: validated routes in precedence order, their match index and their
// compiled upstreams (balancer, timeouts, retries). Two ways in, one code path: buildSnapshot reads every
// row (start, or a fallback), updateSnapshot only the rows changed since the previous snapshot and what
// depends on them. Runs once per store change; never throws.

import { formatHostPort } from '../lib/ip';
import type { FilterBuildView } from '../plugins/compile';
import { BALANCER_TYPES, balancerNote, createBalancer } from '../proxy/balance/index';
import { compileHealthChecks } from '../health/config';
import { type RouteIndex, type RouteRule, compileRouteIndex, compileRouteRule } from '../proxy/match/route';
import { updateRouteIndex } from '../proxy/match/index-update';
import { compileUpstreamProxyPlans } from '../proxy/connect/proxy-prefix';
import { compilePolicy } from '../proxy/session/policy';
import { normalizeNodes, validateStreamRoute, validateUpstream, type SchemaResult } from '../schema/index';
import type { JsonObject } from '../lib/json';
import type { Resource, RowChange, StoreChanges, StoreContents, StoredObject } from '../store/types';
import { type FilterChain, NO_FILTERS } from '../proxy/filter/types';
import type { CachedRule, CachedSsl, CachedUpstream, CompiledRoute, CompiledUpstream, Snapshot, UpstreamNode } from './types';
import { Pending, overlay } from './overlay-map';
import { attachUpstreamTls, buildCertificateTable, cachedSsl, clientCertIdOf, upstreamSource } from './ssl';
import { type AddressesOf, expandNodes, namesIn } from '../dns/expand';
import { reexpandUpstream } from './resolve';
import { recordUpdate } from './changes';

/** The schema functions the build relies on; injectable so tests can pin (and count) them. */
export interface BuildDeps {
  validateStreamRoute: (body: unknown) => SchemaResult;
  validateUpstream: (body: unknown) => SchemaResult;
  normalizeNodes: (nodes: unknown) => UpstreamNode[];
  /** A route's stream filters, compiled from its `plugins` (src/plugins/compile.ts); absent: none. */
  compileFilters?: (route: JsonObject, row: StoredObject, key: string, build: FilterBuildView) => FilterChain;
  /** The current addresses of node names (src/dns/resolver.ts); absent: names stay names (resolved per connect). */
  addressesOf?: AddressesOf;
}

export const schemaDeps: BuildDeps = { validateStreamRoute, validateUpstream, normalizeNodes };

/** Build settings fixed for the process. */
export interface BuildTls {
  /** apisix.ssl.ssl_trusted_certificate: what upstream `tls.verify` checks against; null = the runtime's roots. */
  trustedCa?: string | null;
}

/** nginx stream defaults when an upstream has no `timeout` (spec 5.4). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

const ROUTE_PREFIX = '/apisix/stream_routes/';
const UPSTREAM_PREFIX = '/apisix/upstreams/';

/** Route precedence is id byte order (ids are ASCII, so code-unit order is byte order). */
/** No stream_listeners rows (frozen: snapshots share it). */
const NO_ROWS: readonly StoredObject[] = Object.freeze([]);

function byId(a: StoredObject, b: StoredObject): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : null;
}

function validate(fn: (body: unknown) => SchemaResult, value: unknown): string | null {
  try {
    const r = fn(value);
    return r.ok ? null : r.message;
  } catch (err) {
    return `validation failed: ${(err as Error).message}`;
  }
}

/** Compile one upstream object (validated already). Problems explain a null upstream or a fallback. */
export function compileUpstream(
  key: string,
  value: JsonObject,
  deps: BuildDeps = schemaDeps,
  /** The same key's previous compiled upstream: its balancer hands over per-node state (issue 5). */
  prevUpstream: CompiledUpstream | null = null,
): Omit<CachedUpstream, 'source'> {
  const result = (upstream: CompiledUpstream | null, problems: string[]) => ({ upstream, problems });
  let nodes: UpstreamNode[];
  try {
    nodes = deps.normalizeNodes(value.nodes);
  } catch (err) {
    return result(null, [`invalid nodes: ${(err as Error).message}`]);
  }
  if (nodes.length === 0) return result(null, ['upstream has no nodes']);
  const type = value.type === undefined ? 'roundrobin' : value.type;
  if (typeof type !== 'string' || !BALANCER_TYPES.includes(type)) return result(null, [`unknown balancer type: ${String(type)}`]);
  // nodes written as DNS names: expanded to the addresses known now, re-expanded when they change (src/dns/)
  const declared = nodes;
  const names = namesIn(nodes);
  if (names.length > 0 && deps.addressesOf !== undefined) nodes = expandNodes(nodes, deps.addressesOf);
  const notes: string[] = [];
  const note = balancerNote(type);
  if (note !== null) notes.push(note);
  const proxyProtocol = compileUpstreamProxyPlans(value.proxy_protocol);
  if (typeof proxyProtocol === 'string') return result(null, [proxyProtocol]);
  const checks = compileHealthChecks(value.checks, proxyProtocol?.version ?? 1);
  const t = (value.timeout ?? {}) as JsonObject;
  const send = seconds(t.send);
  const read = seconds(t.read);
  const retries = typeof value.retries === 'number' && Number.isInteger(value.retries) && value.retries >= 0 ? value.retries : null;
  const scheme = typeof value.scheme === 'string' && value.scheme !== 'http' ? value.scheme : 'tcp';
  const hashOn = typeof value.hash_on === 'string' ? value.hash_on : undefined;
  const hashKey = typeof value.key === 'string' ? value.key : undefined;
  const upstream: CompiledUpstream = {
    key,
    nodes: nodes.map((n) => (n.address ? n : { ...n, address: formatHostPort(n.host, n.port) })),
    balancer: createBalancer(type, nodes, { prev: prevUpstream?.balancer ?? null, hashOn, key: hashKey }),
    checks,
    retries: retries ?? nodes.length - 1,
    retryTimeoutMs: seconds(value.retry_timeout) ?? 0,
    connectTimeoutMs: seconds(t.connect) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: send === null && read === null ? DEFAULT_IDLE_TIMEOUT_MS : Math.max(send ?? 0, read ?? 0),
    scheme,
    proxyProtocol,
    ...(names.length === 0 ? {} : { named: { declared, names, type, hashOn, key: hashKey, retries } }),
  };
  return result(upstream, notes);
}

/** What a build hands back besides the snapshot. */
export interface BuildResult {
  snapshot: Snapshot;
  /** Problems not present in the previous snapshot (the holder logs these, once). */
  fresh: string[];
  /** Keys of the upstreams added, replaced or removed (the health registry re-syncs those). */
  upstreamKeys: string[];
  /**
   * An incremental build: keys of the routes linked again or removed ("/apisix/stream_routes/1"); every other
   * route is the same object as in the previous snapshot (FilterCompiler.afterSwap looks at these only).
   * Null: a full build, where any route may differ.
   */
  routeKeys: string[] | null;
}

/**
 * One build in progress: the previous snapshot's maps (empty ones for a full build) with the changed rows
 * applied beside them, then the routes that depend on what changed linked again. `base` is what the build
 * starts from; `cache` is what it may reuse by row text (the previous snapshot in both cases).
 */
class Draft {
  readonly ssls: Pending<string, CachedSsl>;
  readonly upstreams: Pending<string, CachedUpstream>;
  readonly rules: Pending<string, CachedRule>;
  /** Stored upstream id -> keys of the routes (valid rules) naming it, in no order. */
  private readonly users: Pending<string, readonly string[]>;
  /** Lists of `users` made by this build: changed in place, the others are copied first. */
  private readonly ownLists = new Set<readonly string[]>();
  private readonly problems: Pending<string, readonly string[]>;
  /** Rows whose problems were recorded by this build. */
  private readonly touched = new Set<string>();
  /** Upstream keys whose entry changed. */
  readonly upstreamKeys = new Set<string>();
  /** Ids of stored upstreams whose entry changed: the routes naming them are linked again. */
  private readonly namedChanged = new Set<string>();
  private readonly sslChanged = new Set<string>();
  /** Route keys to link again (their rule is valid). */
  private readonly relink = new Set<string>();
  /** Route ids leaving the index (deleted, or skipped now). */
  readonly removedRoutes = new Set<string>();
  /** [weir] The stream_listeners rows: the base's array until one changes. */
  private listenerRows: readonly StoredObject[];

  constructor(
    private readonly base: Snapshot | null,
    private readonly cache: Snapshot | null,
    private readonly deps: BuildDeps,
    private readonly trustedCa: string | null,
  ) {
    // nothing writes into a built snapshot: the new maps share the old ones' entries and add the changes
    this.ssls = new Pending(overlay(base?.ssls));
    this.upstreams = new Pending(overlay(base?.upstreams));
    this.rules = new Pending(overlay(base?.rules));
    this.users = new Pending(overlay(base?.routesByUpstream));
    this.problems = new Pending(overlay(base?.problems));
    this.listenerRows = base?.listenerRows ?? NO_ROWS;
  }

  /** [weir] Put, replace (row) or remove (null) one stream_listeners row; kept in id order. */
  applyListener(id: string, row: StoredObject | null): void {
    const rows = this.listenerRows.filter((r) => r.id !== id);
    if (row !== null) {
      rows.push(row);
      rows.sort(byId);
    }
    this.listenerRows = Object.freeze(rows);
  }

  /** [weir] A full build's stream_listeners rows: the cache's array when every row reads as it did. */
  setListeners(rows: readonly StoredObject[]): void {
    const sorted = [...rows].sort(byId);
    const old = this.cache?.listenerRows;
    const same = old !== undefined && old.length === sorted.length && old.every((r, i) => r.id === sorted[i]!.id && r.raw === sorted[i]!.raw);
    this.listenerRows = same ? old : Object.freeze(sorted);
  }

  /** Record a row's problems now ([] = none). */
  setProblems(row: string, list: readonly string[]): void {
    this.touched.add(row);
    const current = this.problems.get(row);
    if (list.length === 0) this.problems.delete(row);
    else if (current === undefined || !sameList(current, list)) this.problems.set(row, list);
  }

  /** Problems of the rows this build recorded that the previous snapshot did not have for that row. */
  private freshProblems(): string[] {
    const fresh: string[] = [];
    for (const row of this.touched) {
      const had = this.cache?.problems.get(row);
      for (const p of this.problems.get(row) ?? []) if (had === undefined || !had.includes(p)) fresh.push(p);
    }
    return fresh;
  }

  private setUpstream(key: string, entry: CachedUpstream | undefined): void {
    const before = this.upstreams.get(key);
    if (entry === before) return;
    if (entry === undefined) this.upstreams.delete(key);
    else this.upstreams.set(key, entry);
    this.upstreamKeys.add(key);
    if (key.startsWith(UPSTREAM_PREFIX)) this.namedChanged.add(key.slice(UPSTREAM_PREFIX.length));
  }

  /** Compile an upstream, or reuse `old` (its previous entry under the same key) while its source is unchanged. */
  private compileOrReuse(key: string, rowText: string, value: JsonObject, old: CachedUpstream | undefined): CachedUpstream {
    const source = upstreamSource(rowText, value, this.ssls);
    if (old !== undefined && old.source === source) return old;
    const compiled = { ...compileUpstream(key, value, this.deps, old?.upstream ?? null), source };
    const sslId = clientCertIdOf(value);
    const entry: CachedUpstream = sslId === null ? compiled : { ...compiled, clientCert: { sslId, rowText, value } };
    return attachUpstreamTls(entry, value, this.ssls, this.trustedCa);
  }

  applySsl(id: string, row: StoredObject | null): void {
    const before = this.ssls.get(id);
    const entry = row === null ? undefined : cachedSsl(id, row.raw, row.value, this.cache?.ssls ?? null);
    if (entry === undefined) this.ssls.delete(id);
    else this.ssls.set(id, entry);
    if (entry !== before) this.sslChanged.add(id);
    this.setProblems(`ssls/${id}`, entry === undefined || entry.ssl !== null ? [] : [`ssls/${id}: skipped: ${entry.problem}`]);
  }

  applyUpstream(id: string, row: StoredObject | null): void {
    const key = UPSTREAM_PREFIX + id;
    const name = `upstreams/${id}`;
    if (row === null) {
      this.setUpstream(key, undefined);
      this.setProblems(name, []);
      return;
    }
    const old = this.cache?.upstreams.get(key);
    const known = old !== undefined && old.source === row.raw; // validated before, with this text
    if (known && old.skipped !== undefined) {
      this.setUpstream(key, old);
      this.setProblems(name, [`${name}: skipped: ${old.skipped}`]);
      return;
    }
    const bad = known ? null : validate(this.deps.validateUpstream, row.value);
    if (bad !== null) {
      this.setUpstream(key, { source: row.raw, upstream: null, problems: [], skipped: bad });
      this.setProblems(name, [`${name}: skipped: ${bad}`]);
      return;
    }
    const entry = this.compileOrReuse(key, row.raw, row.value, old?.skipped === undefined ? old : undefined);
    this.setUpstream(key, entry);
    this.setProblems(name, entry.problems.map((p) => `${name}: ${p}`));
  }

  /** Expand the DNS names of the upstream under `key` again (their addresses changed); nothing when that changes nothing. */
  applyResolved(key: string, addressesOf: AddressesOf): void {
    const entry = this.upstreams.get(key);
    const next = entry?.upstream ? reexpandUpstream(entry.upstream, addressesOf) : null;
    if (next === null || entry === undefined) return;
    this.setUpstream(key, { ...entry, upstream: next });
    if (key.startsWith(ROUTE_PREFIX)) this.relink.add(key);
  }

  /**
   * After applyResolved: link again the routes whose filters may send to an upstream under `keys` (traffic-split's
   * weighted_upstreams, by upstream_id or inline) when that upstream was expanded again or is one of the filters'
   * own (whose names only the filter compiler expands again). `entries`: the base snapshot's route index.
   */
  relinkFilterUsers(entries: ReadonlyArray<{ route: CompiledRoute }>, keys: ReadonlySet<string>): void {
    const moved = (key: string): boolean => keys.has(key) && (this.upstreamKeys.has(key) || !this.upstreams.has(key));
    for (const { route } of entries) if (route.filters.upstreams?.some((up) => moved(up.key)) === true) this.relink.add(route.key);
  }

  /** Keep `users` in step: the route `key` named stored upstream `from` before and names `to` now (null = none). */
  private moveUser(key: string, from: string | null, to: string | null): void {
    if (from === to) return;
    if (from !== null) {
      const list = this.ownList(from);
      list.splice(list.indexOf(key), 1);
      if (list.length === 0) this.users.delete(from);
    }
    if (to !== null) this.ownList(to).push(key);
  }

  private ownList(upstreamId: string): string[] {
    const list = this.users.get(upstreamId);
    if (list !== undefined && this.ownLists.has(list)) return list as string[];
    const own = list === undefined ? [] : list.slice();
    this.ownLists.add(own);
    this.users.set(upstreamId, own);
    return own;
  }

  applyRoute(id: string, row: StoredObject | null): void {
    const key = ROUTE_PREFIX + id;
    const name = `stream_routes/${id}`;
    const cached = row === null ? undefined : cachedRule(key, row, this.cache, this.deps);
    this.moveUser(key, upstreamIdOf(this.rules.get(key)), upstreamIdOf(cached));
    if (cached === undefined || typeof cached.rule === 'string') {
      if (cached === undefined) this.rules.delete(key);
      else this.rules.set(key, cached);
      this.setUpstream(key, undefined);
      this.removedRoutes.add(id);
      this.relink.delete(key);
      this.setProblems(name, cached === undefined ? [] : [`${name}: skipped: ${cached.rule as string}`]);
      return;
    }
    this.rules.set(key, cached);
    const inline = cached.inline ? this.compileOrReuse(key, row!.raw, row!.value.upstream as JsonObject, this.cache?.upstreams.get(key)) : undefined;
    this.setUpstream(key, inline);
    this.relink.add(key);
  }

  /**
   * After the changed rows: recompile the upstreams whose client-cert SSL object changed, and mark the
   * routes naming a changed stored upstream. `everyRoute`: a full build links every route anyway.
   */
  followDependants(everyRoute: boolean): void {
    if (this.sslChanged.size > 0) {
      for (const [key, entry] of [...this.upstreams.entries()]) {
        const dep = entry.clientCert;
        if (dep === undefined || !this.sslChanged.has(dep.sslId)) continue;
        const next = this.compileOrReuse(key, dep.rowText, dep.value, entry);
        if (next === entry) continue;
        this.setUpstream(key, next);
        if (key.startsWith(ROUTE_PREFIX)) this.relink.add(key);
        else this.setProblems(`upstreams/${key.slice(UPSTREAM_PREFIX.length)}`, next.problems.map((p) => `upstreams/${key.slice(UPSTREAM_PREFIX.length)}: ${p}`));
      }
    }
    if (everyRoute) return;
    for (const upstreamId of this.namedChanged) for (const key of this.users.get(upstreamId) ?? []) this.relink.add(key);
  }

  /** The routes linked again, as index rules, in id order; their problems recorded. */
  linkRoutes(): RouteRule[] {
    const out: RouteRule[] = [];
    for (const key of [...this.relink].sort()) {
      const cached = this.rules.get(key)!;
      const { route, problems } = this.linkRoute(key, cached);
      this.setProblems(`stream_routes/${route.id}`, problems);
      out.push({ ...(cached.rule as Omit<RouteRule, 'route'>), route });
    }
    return out;
  }

  private linkRoute(key: string, cached: CachedRule): { route: CompiledRoute; problems: string[] } {
    const id = key.slice(ROUTE_PREFIX.length);
    const name = `stream_routes/${id}`;
    const problems: string[] = [];
    // the filters first (their problems lead the route's): the compiler reuses an unchanged route's chain
    const row = cached.row;
    const view: FilterBuildView = { upstreams: this.upstreams, ssls: this.ssls, trustedCa: this.trustedCa, addressesOf: this.deps.addressesOf, problems };
    const filters = this.deps.compileFilters === undefined ? NO_FILTERS : this.deps.compileFilters(row.value, row, key, view);
    let upstream: CompiledUpstream | null = null;
    let problem: string | null = null;
    if (cached.upstreamId !== null) {
      const upId = cached.upstreamId;
      const entry = this.upstreams.get(UPSTREAM_PREFIX + upId);
      if (entry === undefined) problem = `upstream ${upId} not found`;
      else if (entry.skipped !== undefined) problem = `upstream ${upId} is invalid`;
      else {
        upstream = entry.upstream;
        if (upstream === null) problem = entry.problems[0] ?? `upstream ${upId} cannot be used`;
      }
    } else if (cached.inline) {
      const entry = this.upstreams.get(key)!;
      upstream = entry.upstream;
      if (upstream === null) problem = entry.problems[0] ?? 'upstream cannot be used';
      else for (const p of entry.problems) problems.push(`${name}: ${p}`);
    } else if (filters.setsUpstream !== true) {
      problem = 'missing upstream configuration in Route or Service';
    }
    if (problem !== null) problems.push(`${name}: ${problem}`);
    const route: CompiledRoute = { id, key, upstream, problem, tlsPassthrough: cached.tlsPassthrough, filters };
    if (cached.onChange !== undefined) route.onChange = cached.onChange;
    if (cached.onNodeRemoved !== undefined) route.onNodeRemoved = cached.onNodeRemoved;
    Object.freeze(route);
    return { route, problems };
  }

  /** Freeze the result. `index` holds every route in precedence order; certificates are rebuilt only when an SSL changed. */
  finish(revision: number, routeIndex: RouteIndex, full: boolean): BuildResult {
    const certificates =
      full || this.sslChanged.size > 0 || this.base === null
        ? buildCertificateTable(this.ssls.keys().sort().map((id) => this.ssls.get(id)!))
        : this.base.certificates;
    const snapshot: Snapshot = Object.freeze({
      revision,
      get routes() {
        return routesOf(routeIndex);
      },
      routeIndex,
      upstreams: this.upstreams.result(),
      rules: this.rules.result(),
      ssls: this.ssls.result(),
      certificates,
      problems: this.problems.result(),
      routesByUpstream: this.users.result(),
      listenerRows: this.listenerRows,
    });
    let routeKeys: string[] | null = null;
    if (!full && this.base !== null) {
      const routes = new Set(this.removedRoutes);
      for (const key of this.relink) routes.add(key.slice(ROUTE_PREFIX.length));
      recordUpdate(this.base, snapshot, routes);
      routeKeys = [...routes].map((id) => ROUTE_PREFIX + id);
    }
    return { snapshot, fresh: this.freshProblems(), upstreamKeys: [...this.upstreamKeys], routeKeys };
  }
}


const routeLists = new WeakMap<RouteIndex, readonly CompiledRoute[]>();

/**
 * A snapshot's routes in precedence order, as a frozen array made on first use. Not made per build:
 * nothing on the connection path reads it, and freezing a 10,000-element array costs JavaScriptCore
 * about 4 ms (and slows reading it), which would be most of a write's budget.
 */
function routesOf(index: RouteIndex): readonly CompiledRoute[] {
  let routes = routeLists.get(index);
  if (routes === undefined) {
    routes = Object.freeze(index.entries.map((e) => e.route));
    routeLists.set(index, routes);
  }
  return routes;
}

/** The stored upstream a route row names, when its rule is valid (what `users` indexes). */
function upstreamIdOf(cached: CachedRule | undefined): string | null {
  return cached === undefined || typeof cached.rule === 'string' ? null : cached.upstreamId;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Validate and compile a route row's match rule, or reuse the previous build's outcome for the same text. */
function cachedRule(key: string, row: StoredObject, cache: Snapshot | null, deps: BuildDeps): CachedRule {
  const old = cache?.rules.get(key);
  if (old !== undefined && old.source === row.raw) return old;
  const bad = validate(deps.validateStreamRoute, row.value);
  if (bad !== null) return { source: row.raw, rule: bad, upstreamId: null, inline: false, tlsPassthrough: false, row };
  const v = row.value;
  const upstreamId = v.upstream_id !== undefined && v.upstream_id !== null ? String(v.upstream_id) : null;
  return {
    source: row.raw,
    rule: compileRouteRule(v),
    upstreamId,
    inline: upstreamId === null && v.upstream !== undefined && v.upstream !== null && typeof v.upstream === 'object',
    tlsPassthrough: v.tls_passthrough === true,
    // its filters are compiled when the route is linked (they may name upstreams); see linkRoute
    row,
    ...(v.on_change === undefined ? {} : { onChange: compilePolicy(v.on_change) }),
    ...(v.on_node_removed === undefined ? {} : { onNodeRemoved: compilePolicy(v.on_node_removed) }),
  };
}

/**
 * Build a snapshot from one consistent read of the whole store. Bad rows are skipped and named in
 * `problems` (in row order: unreadable, ssls, upstreams, stream routes); routes that cannot forward keep a
 * `problem`. Rows whose text did not change since `prev` are neither validated nor compiled again.
 */
export function buildSnapshot(
  contents: StoreContents,
  prev: Snapshot | null,
  deps: BuildDeps = schemaDeps,
  tls: BuildTls = {},
  /** Rows left out before the build (a route whose service is missing): [row, problem]. */
  skipped: ReadonlyArray<readonly [string, string]> = [],
): BuildResult & { problems: string[] } {
  const draft = new Draft(null, prev, deps, tls.trustedCa ?? null);
  for (const bad of contents.unreadable) draft.setProblems(`${bad.res}/${bad.id}`, [`skipped: ${bad.message}`]);
  for (const [row, problem] of skipped) draft.setProblems(row, [problem]);
  for (const row of contents.ssls) draft.applySsl(row.id, row);
  for (const row of contents.upstreams) draft.applyUpstream(row.id, row);
  for (const row of [...contents.streamRoutes].sort(byId)) draft.applyRoute(row.id, row);
  draft.setListeners(contents.streamListeners ?? []);
  draft.followDependants(true);
  // a full build: upstreams of the previous snapshot that are gone changed too
  for (const key of prev?.upstreams.keys() ?? []) if (!draft.upstreams.has(key)) draft.upstreamKeys.add(key);
  const result = draft.finish(contents.revision, compileRouteIndex(draft.linkRoutes()), true);
  return { ...result, problems: listProblems(result.snapshot) };
}

const PROBLEM_ORDER = ['ssls/', 'upstreams/', 'stream_routes/', 'stream_listeners/'];

/** Every problem of a snapshot: SSL objects, then upstreams, then stream routes, each in id order. */
export function listProblems(snapshot: Snapshot): string[] {
  const rank = (row: string): number => PROBLEM_ORDER.findIndex((p) => row.startsWith(p));
  const rows = [...snapshot.problems.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return rows.flatMap((row) => snapshot.problems.get(row)!);
}

/**
 * The snapshot after `changes` (Store.readChanges) on top of `prev`: only the changed rows are compiled,
 * plus the routes that use a changed upstream and the upstreams that take a client certificate from a
 * changed SSL object; everything else is shared with `prev`, which stays as it was.
 */
export function updateSnapshot(prev: Snapshot, changes: StoreChanges, deps: BuildDeps = schemaDeps, tls: BuildTls = {}): BuildResult {
  const draft = new Draft(prev, prev, deps, tls.trustedCa ?? null);
  const byRes = (res: Resource): RowChange[] => changes.changes.filter((c) => c.res === res);
  const apply = (c: RowChange, fn: (id: string, row: StoredObject | null) => void): void => {
    fn(c.id, c.row);
    if (c.unreadable !== null) draft.setProblems(`${c.res}/${c.id}`, [`skipped: ${c.unreadable}`]);
  };
  for (const c of byRes('ssls')) apply(c, (id, row) => draft.applySsl(id, row));
  for (const c of byRes('upstreams')) apply(c, (id, row) => draft.applyUpstream(id, row));
  for (const c of byRes('stream_routes')) apply(c, (id, row) => draft.applyRoute(id, row));
  for (const c of byRes('stream_listeners')) apply(c, (id, row) => draft.applyListener(id, row));
  draft.followDependants(false);
  const linked = draft.linkRoutes();
  return draft.finish(changes.revision, updateRouteIndex(prev.routeIndex, draft.removedRoutes, linked), false);
}

/**
 * The snapshot after the node names of the upstreams under `keys` got new addresses (src/dns/resolver.ts):
 * only those upstreams are expanded again, and the routes using them linked again, their own or one their
 * filters may choose (traffic-split's, whose inline upstreams, keyed "<route key>#traffic-split/...", are
 * expanded again when the route's chain is compiled again); same revision.
 */
export function updateResolved(prev: Snapshot, keys: Iterable<string>, deps: BuildDeps & { addressesOf: AddressesOf }, tls: BuildTls = {}): BuildResult {
  const draft = new Draft(prev, prev, deps, tls.trustedCa ?? null);
  const changed = new Set(keys);
  for (const key of changed) draft.applyResolved(key, deps.addressesOf);
  draft.followDependants(false);
  if (deps.compileFilters !== undefined) draft.relinkFilterUsers(prev.routeIndex.entries, changed);
  const linked = draft.linkRoutes();
  return draft.finish(prev.revision, updateRouteIndex(prev.routeIndex, draft.removedRoutes, linked), false);
}

/** A snapshot with no routes: what the proxy serves before the store is first read. */
export function emptySnapshot(): Snapshot {
  return buildSnapshot({ revision: 0, streamRoutes: [], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
}
