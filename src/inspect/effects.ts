// What a (dry-run) write would change, from the store's contents just before and just after it: traffic that
// changes route (exact, on the match conditions), the open connections and sessions on what it touches, and the
// references it would leave dangling. Pure apart from reading the live tables; runs per dry-run request.

import { type JsonObject, isPlainObject } from '../lib/json';
import { diffWinners } from '../proxy/match/route-diff';
import type { ConnSample } from '../proxy/match/space';
import type { StoreContents, StoredObject } from '../store/types';
import { countAffected, type LiveTables } from './connections';
import type { CountQuestion } from './worker-tables';
import type { RuleCache } from './rules';

export interface EffectsInput {
  before: StoreContents;
  after: StoreContents;
  rules: RuleCache;
  /** The proxy's open connections; null offline (the CLI), where the count is 0. */
  live: LiveTables | null;
  /** Scoped keys: what the key may see; entries naming anything else are left out. */
  visible?: (res: 'stream_routes' | 'upstreams' | 'ssls', id: string) => boolean;
}

/** Under today's session policy a write never cuts what is open: live connections keep their snapshot. */
export const CONNECTION_POLICY = 'open connections and sessions finish on the configuration they started with';

/** Ids whose row text differs (added, removed or changed). */
function changedIds(before: readonly StoredObject[], after: readonly StoredObject[]): Set<string> {
  const old = new Map(before.map((r) => [r.id, r.raw]));
  const out = new Set<string>();
  for (const r of after) if (old.get(r.id) !== r.raw) out.add(r.id);
  const now = new Set(after.map((r) => r.id));
  for (const r of before) if (!now.has(r.id)) out.add(r.id);
  return out;
}

function describeSample(s: ConnSample): string {
  const parts = [`remote_addr ${s.remoteAddr}`, `server_addr ${s.serverAddr}`, `server_port ${s.serverPort}`];
  if (s.sni !== null) parts.push(`sni ${s.sni}`);
  return parts.join(', ');
}

interface Reference {
  from: string;
  field: string;
  to: string;
}

/** References that point at nothing (or at an SSL object of the wrong type). */
function danglingReferences(c: StoreContents): Reference[] {
  const ups = new Set(c.upstreams.map((u) => u.id));
  const clientSsls = new Set(c.ssls.filter((s) => s.value.type === 'client').map((s) => s.id));
  const out: Reference[] = [];
  const certRef = (from: string, field: string, upstream: unknown): void => {
    if (!isPlainObject(upstream) || !isPlainObject(upstream.tls)) return;
    const id = upstream.tls.client_cert_id;
    if (id !== undefined && id !== null && !clientSsls.has(String(id))) out.push({ from, field, to: `/apisix/ssls/${String(id)}` });
  };
  for (const r of c.streamRoutes) {
    const from = `/apisix/stream_routes/${r.id}`;
    const up = r.value.upstream_id;
    if (up !== undefined && up !== null && !ups.has(String(up))) out.push({ from, field: 'upstream_id', to: `/apisix/upstreams/${String(up)}` });
    certRef(from, 'upstream.tls.client_cert_id', r.value.upstream);
  }
  for (const u of c.upstreams) certRef(`/apisix/upstreams/${u.id}`, 'tls.client_cert_id', u.value);
  return out;
}

function keyVisible(key: string, visible: EffectsInput['visible']): boolean {
  if (visible === undefined) return true;
  const m = /^\/apisix\/(stream_routes|upstreams|ssls)\/(.*)$/.exec(key);
  return m !== null && visible(m[1] as 'stream_routes' | 'upstreams' | 'ssls', m[2]!);
}

/** The stored upstreams a route row names: its upstream_id and traffic-split's weighted_upstreams[].upstream_id. */
function upstreamIdsOf(route: JsonObject): string[] {
  const ids: string[] = [];
  if (route.upstream_id !== undefined && route.upstream_id !== null) ids.push(String(route.upstream_id));
  const split = isPlainObject(route.plugins) ? route.plugins['traffic-split'] : undefined;
  if (!isPlainObject(split) || !Array.isArray(split.rules)) return ids;
  for (const rule of split.rules) {
    if (!isPlainObject(rule) || !Array.isArray(rule.weighted_upstreams)) continue;
    for (const w of rule.weighted_upstreams) if (isPlainObject(w) && w.upstream_id !== undefined && w.upstream_id !== null) ids.push(String(w.upstream_id));
  }
  return ids;
}

/**
 * What a write touches, for counting the open connections on it (here, and with several workers in each worker,
 * src/inspect/worker-tables.ts): the routes it changed or that can send to an upstream object it changed (their
 * own, or one their traffic-split may choose: the session policies count those as changed routes too), those the
 * caller sees, and the keys of the upstreams it changed (a changed route's inline one included).
 */
export function affectedTargets(before: StoreContents, after: StoreContents, visible?: EffectsInput['visible']): CountQuestion {
  const seeRoute = (id: string) => visible === undefined || visible('stream_routes', id);
  const routesChanged = changedIds(before.streamRoutes, after.streamRoutes);
  const upstreamsChanged = changedIds(before.upstreams, after.upstreams);
  const routes = new Set<string>([...routesChanged].filter(seeRoute));
  for (const r of [...before.streamRoutes, ...after.streamRoutes]) {
    if (upstreamIdsOf(r.value).some((id) => upstreamsChanged.has(id)) && seeRoute(r.id)) routes.add(r.id);
  }
  const keys = [...upstreamsChanged].map((id) => `/apisix/upstreams/${id}`);
  for (const id of routesChanged) keys.push(`/apisix/stream_routes/${id}`);
  return { routes: [...routes].sort(), upstreamKeys: keys.filter((k) => keyVisible(k, visible)).sort() };
}

/**
 * The `effects` member of a dry-run answer. `connections` counts this process's open connections; with several
 * workers the Admin API adds the other workers' (src/admin/resource-call.ts, countOnOtherWorkers).
 */
export function computeEffects(i: EffectsInput): JsonObject {
  const { before, after } = i;
  const seeRoute = (id: string | null) => id === null || i.visible === undefined || i.visible('stream_routes', id);
  const routesChanged = changedIds(before.streamRoutes, after.streamRoutes);

  const routes: JsonObject[] = [];
  if (routesChanged.size > 0) {
    const changes = diffWinners(i.rules.rulesOf(before.streamRoutes), i.rules.rulesOf(after.streamRoutes), routesChanged);
    for (const c of changes) {
      if (!seeRoute(c.from) || !seeRoute(c.to)) continue;
      const eg = `e.g. ${describeSample(c.sample)}`;
      if (c.to !== null) {
        routes.push({ id: c.to, change: 'gains', detail: c.from === null ? `connections no route matched, ${eg}` : `connections route ${c.from} served, ${eg}` });
      }
      if (c.from !== null) {
        routes.push({ id: c.from, change: 'loses', detail: c.to === null ? `connections no route will match (refused), ${eg}` : `connections to route ${c.to}, ${eg}` });
      }
    }
  }

  // open connections on a changed route, on a route whose upstream changed, or on a changed upstream
  const targets = affectedTargets(before, after, i.visible);
  const connections = i.live === null ? 0 : countAffected(i.live, new Set(targets.routes), new Set(targets.upstreamKeys), seeRoute);

  const was = new Set(danglingReferences(before).map((r) => `${r.from}|${r.field}|${r.to}`));
  const broken = danglingReferences(after).filter((r) => !was.has(`${r.from}|${r.field}|${r.to}`) && keyVisible(r.from, i.visible));

  return { routes, connections, connection_policy: CONNECTION_POLICY, broken_references: broken as unknown as JsonObject[] };
}
