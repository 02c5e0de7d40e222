// Store rows -> immutable Snapshot: validated routes in precedence order, their match index and their
// compiled upstreams (balancer, timeouts, retries). Runs once per store change; never throws.

import { formatHostPort } from '../lib/ip';
import { type FilterChain, NO_FILTERS } from '../proxy/filter/types';
import { BALANCER_TYPES, balancerNote, createBalancer } from '../proxy/balance/index';
import { compileHealthChecks, healthCheckNote } from '../health/config';
import { type RouteRule, compileRouteIndex, compileRouteRule } from '../proxy/match/route';
import { compilePolicy } from '../proxy/session/policy';
import { normalizeNodes, validateStreamRoute, validateUpstream, type SchemaResult } from '../schema/index';
import type { JsonObject } from '../lib/json';
import type { StoreContents, StoredObject } from '../store/types';
import type { CachedRule, CachedUpstream, CompiledRoute, CompiledUpstream, Snapshot, UpstreamNode } from './types';
import type { CachedSsl, CompiledSsl } from './types';
import { attachUpstreamTls, buildCertificateTable, cachedSsl, upstreamSource } from './ssl';

/** The schema functions the build relies on; injectable so tests can pin them. */
export interface BuildDeps {
  validateStreamRoute: (body: unknown) => SchemaResult;
  validateUpstream: (body: unknown) => SchemaResult;
  normalizeNodes: (nodes: unknown) => UpstreamNode[];
  /** A route's stream filters (the plugins issue compiles `plugins` here); absent: none. */
  compileFilters?: (route: JsonObject) => FilterChain;
}

export const schemaDeps: BuildDeps = { validateStreamRoute, validateUpstream, normalizeNodes };

/** nginx stream defaults when an upstream has no `timeout` (spec 5.4). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

/** Route precedence is id byte order (ids are ASCII, so code-unit order is byte order). */
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
  const notes: string[] = [];
  const note = balancerNote(type);
  if (note !== null) notes.push(note);
  const checks = compileHealthChecks(value.checks);
  const checksNote = checks === null ? null : healthCheckNote(checks);
  if (checksNote !== null) notes.push(checksNote);
  const t = (value.timeout ?? {}) as JsonObject;
  const send = seconds(t.send);
  const read = seconds(t.read);
  const retries = value.retries;
  const scheme = typeof value.scheme === 'string' && value.scheme !== 'http' ? value.scheme : 'tcp';
  const upstream: CompiledUpstream = {
    key,
    nodes: nodes.map((n) => (n.address ? n : { ...n, address: formatHostPort(n.host, n.port) })),
    balancer: createBalancer(type, nodes, {
      prev: prevUpstream?.balancer ?? null,
      hashOn: typeof value.hash_on === 'string' ? value.hash_on : undefined,
      key: typeof value.key === 'string' ? value.key : undefined,
    }),
    checks,
    health: { checker: null }, // src/health/registry.ts fills it after the build
    retries: typeof retries === 'number' && Number.isInteger(retries) && retries >= 0 ? retries : nodes.length - 1,
    retryTimeoutMs: seconds(value.retry_timeout) ?? 0,
    connectTimeoutMs: seconds(t.connect) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: send === null && read === null ? DEFAULT_IDLE_TIMEOUT_MS : Math.max(send ?? 0, read ?? 0),
    scheme,
  };
  return result(upstream, notes);
}

/** Reuse the previous build's compiled upstream (and its balancer state) when its source row is unchanged. */
function cachedOrCompile(
  key: string,
  rowText: string,
  value: JsonObject,
  prev: Snapshot | null,
  deps: BuildDeps,
  ssls: ReadonlyMap<string, CachedSsl>,
  trustedCa: string | null = null,
): CachedUpstream {
  const source = upstreamSource(rowText, value, ssls);
  const old = prev?.upstreams.get(key);
  if (old !== undefined && old.source === source) return old;
  return attachUpstreamTls({ ...compileUpstream(key, value, deps, old?.upstream ?? null), source }, value, ssls, trustedCa);
}

/** Compile SSL rows (reusing unchanged ones) and index the enabled server certificates by SNI. */
function buildSsls(contents: StoreContents, prev: Snapshot | null, problems: string[]) {
  const ssls = new Map<string, CachedSsl>();
  const usable: Array<[CompiledSsl, JsonObject]> = [];
  for (const row of contents.ssls) {
    const entry = cachedSsl(row.id, row.raw, row.value, prev?.ssls ?? null);
    ssls.set(row.id, entry);
    if (entry.ssl === null) problems.push(`ssls/${row.id}: skipped: ${entry.problem}`);
    else usable.push([entry.ssl, row.value]);
  }
  return { ssls, certificates: buildCertificateTable(usable) };
}

/** Validate and compile a route row's match rule, or reuse the previous build's outcome for the same text. */
function cachedRule(key: string, row: StoredObject, prev: Snapshot | null, deps: BuildDeps): CachedRule {
  const old = prev?.rules.get(key);
  if (old !== undefined && old.source === row.raw) return old;
  const bad = validate(deps.validateStreamRoute, row.value);
  if (bad !== null) return { source: row.raw, rule: bad };
  const rule = compileRouteRule(row.value);
  return { source: row.raw, rule };
}

/**
 * Build a snapshot from one consistent read of the store. Bad rows are skipped and named in
 * `problems` (the caller logs them once per build); routes that cannot forward keep a `problem`.
 * Rows whose text did not change since `prev` are neither validated nor compiled again, so a write
 * costs little more than reading the store, however many routes there are.
 * `tls.trustedCa` (apisix.ssl.ssl_trusted_certificate, fixed for the process) is what upstream
 * `tls.verify` checks against; null = the runtime's roots.
 */
export function buildSnapshot(
  contents: StoreContents,
  prev: Snapshot | null,
  deps: BuildDeps = schemaDeps,
  tls: { trustedCa?: string | null } = {},
): { snapshot: Snapshot; problems: string[] } {
  const trustedCa = tls.trustedCa ?? null;
  const problems: string[] = contents.unreadable.map((why) => `skipped: ${why}`);
  const upstreams = new Map<string, CachedUpstream>();
  const invalidUpstreams = new Set<string>();
  const { ssls, certificates } = buildSsls(contents, prev, problems);

  for (const row of contents.upstreams) {
    const key = `/apisix/upstreams/${row.id}`;
    const old = prev?.upstreams.get(key);
    const bad = old !== undefined && old.source === row.raw ? null : validate(deps.validateUpstream, row.value);
    if (bad !== null) {
      problems.push(`upstreams/${row.id}: skipped: ${bad}`);
      invalidUpstreams.add(row.id);
      continue;
    }
    const entry = cachedOrCompile(key, row.raw, row.value, prev, deps, ssls, trustedCa);
    upstreams.set(key, entry);
    for (const p of entry.problems) problems.push(`upstreams/${row.id}: ${p}`);
  }

  const rules: RouteRule[] = [];
  const ruleCache = new Map<string, CachedRule>();
  for (const row of [...contents.streamRoutes].sort(byId)) {
    const key = `/apisix/stream_routes/${row.id}`;
    const cached = cachedRule(key, row, prev, deps);
    ruleCache.set(key, cached);
    if (typeof cached.rule === 'string') {
      problems.push(`stream_routes/${row.id}: skipped: ${cached.rule}`);
      continue;
    }
    const v = row.value;
    const route: CompiledRoute = { id: row.id, key, upstream: null, problem: null, tlsPassthrough: v.tls_passthrough === true, filters: deps.compileFilters?.(v) ?? NO_FILTERS };
    if (v.on_change !== undefined) route.onChange = compilePolicy(v.on_change);
    if (v.on_node_removed !== undefined) route.onNodeRemoved = compilePolicy(v.on_node_removed);
    if (v.upstream_id !== undefined && v.upstream_id !== null) {
      const upId = String(v.upstream_id);
      const entry = upstreams.get(`/apisix/upstreams/${upId}`);
      if (entry === undefined) {
        route.problem = invalidUpstreams.has(upId) ? `upstream ${upId} is invalid` : `upstream ${upId} not found`;
      } else {
        route.upstream = entry.upstream;
        if (entry.upstream === null) route.problem = entry.problems[0] ?? `upstream ${upId} cannot be used`;
      }
    } else if (v.upstream !== undefined && v.upstream !== null && typeof v.upstream === 'object') {
      const entry = cachedOrCompile(key, row.raw, v.upstream as JsonObject, prev, deps, ssls, trustedCa);
      upstreams.set(key, entry);
      route.upstream = entry.upstream;
      if (entry.upstream === null) route.problem = entry.problems[0] ?? 'upstream cannot be used';
      else for (const p of entry.problems) problems.push(`stream_routes/${row.id}: ${p}`);
    } else {
      route.problem = 'missing upstream configuration in Route or Service';
    }
    if (route.problem !== null) problems.push(`stream_routes/${row.id}: ${route.problem}`);
    rules.push({ ...cached.rule, route });
  }

  const snapshot: Snapshot = {
    revision: contents.revision,
    routes: rules.map((r) => r.route),
    routeIndex: compileRouteIndex(rules),
    upstreams,
    rules: ruleCache,
    ssls,
    certificates,
  };
  return { snapshot, problems };
}

/** A snapshot with no routes: what the proxy serves before the store is first read. */
export function emptySnapshot(): Snapshot {
  return buildSnapshot({ revision: 0, streamRoutes: [], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
}
