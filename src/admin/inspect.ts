// The Admin API's inspection routes (weir extensions): explain a connection, list and end what is open.
//   GET    /apisix/admin/stream_routes/explain?remote_addr=&server_port=&server_addr=&sni=&protocol=&proxy_peer=
//   GET    /v1/connections   /v1/udp_sessions        (?route= &upstream= &node= &client= &listener= &page= &page_size=)
//   DELETE /v1/connections/{id}   /v1/udp_sessions/{id}   and, with a filter, every match (admin role)
// Same allow list and key check as the rest of the Admin API; a scoped key sees only its own routes there.
// With several workers the connection views are every worker's (src/inspect/worker-tables.ts).

import { splitConnectionId } from '../proxy/session/conn-id';
import type { IRequest, RouterType } from 'itty-router';
import type { JsonObject } from '../lib/json';
import { type ConnectionQuery, type RouteVisible, type TableName, hasFilter, parseConnectionQuery } from '../inspect/connections';
import { EXPLAIN_PARAMS, explainConnection, parseExplainInput } from '../inspect/explain';
import type { InspectSources } from '../inspect/sources';
import { type Unanswered, WORKER_ANSWER_MS, endEverywhere, gatherRows, idsByPid, mergeParts, rowLimit, withUnanswered } from '../inspect/worker-tables';
import { respond } from './respond';
import type { AdminIdentity } from './scope';

export interface InspectRouteDeps {
  sources: InspectSources | null;
  cors: boolean;
  /** False when apisix.proxy_mode is http: stream routes are off, so is explain. */
  streamEnabled: boolean;
  /** Is there a stream route with this id that the key sees (GET .../stream_routes/explain without explain parameters)? */
  seesStreamRoute?: (id: string, who: AdminIdentity) => boolean;
}

function decode(seg: string | undefined): string {
  if (seg === undefined) return '';
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** Routes a key may see, and the ones whose connections it may end. Connections without a route are admin-only. */
function routeAccess(who: AdminIdentity): { see: RouteVisible; end: RouteVisible } {
  const scope = who.scope;
  if (scope === null) return { see: () => true, end: () => true };
  return {
    see: (id) => id !== null && scope.sees('stream_routes', id),
    end: (id) => id !== null && scope.allows('stream_routes', id, 'DELETE'),
  };
}

/** The filters of a request as the other workers get them: its query string without the admin key. */
function filterText(url: URL): string {
  const q = new URLSearchParams(url.search);
  q.delete('api_key');
  return q.toString();
}

/**
 * Mount the inspection routes. Must run before the generic `/apisix/admin/:res/:id` routes. A stream route may
 * have the id "explain" (APISIX's id schema allows it, so an APISIX export can hold one): a GET of that path
 * with any explain parameter is the explain view, one without is the GET by id when the key sees such a route
 * (handed on to the generic route), else explain's answer about the missing parameters.
 */
export function mountInspect(router: RouterType<IRequest, [URL, AdminIdentity]>, deps: InspectRouteDeps): void {
  const { cors } = deps;
  const unavailable = () => respond(503, { error_msg: 'the proxy is not running in this process' }, cors);

  router.get('/apisix/admin/stream_routes/explain', (_req: IRequest, url: URL, who: AdminIdentity) => {
    const q = url.searchParams;
    if (!EXPLAIN_PARAMS.some((p) => q.has(p)) && deps.seesStreamRoute?.('explain', who) === true) return undefined; // the route object
    if (!deps.streamEnabled) return respond(400, { error_msg: 'stream mode is disabled, can not add stream routes' }, cors);
    const src = deps.sources;
    if (src === null) return unavailable();
    const listeners = src.listeners();
    const input = {
      remote_addr: q.get('remote_addr'), remote_port: q.get('remote_port'), server_addr: q.get('server_addr'), server_port: q.get('server_port'),
      sni: q.get('sni'), protocol: q.get('protocol'), proxy_peer: q.get('proxy_peer'),
    };
    const info = parseExplainInput(input, listeners);
    if (typeof info === 'string') return respond(400, { error_msg: info }, cors);
    const scope = who.scope;
    const visible = scope === null ? undefined : (res: 'stream_routes' | 'ssls', id: string) => scope.sees(res, id);
    return respond(200, explainConnection(src.snapshot(), info, { listeners, visible, health: src.health, realIpFrom: src.realIpFrom }), cors);
  });

  const query = (url: URL): ConnectionQuery | Response => {
    const q = parseConnectionQuery(url.searchParams);
    return typeof q === 'string' ? respond(400, { error_msg: q }, cors) : q;
  };
  const noTables = { tcp: null, udp: null };

  const list = async (table: TableName, url: URL, who: AdminIdentity): Promise<Response> => {
    const q = query(url);
    if (q instanceof Response) return q;
    const scoped = who.scope !== null;
    const { parts, unanswered } = await gatherRows(deps.sources?.live ?? noTables, deps.sources?.peers ?? null, { table, query: filterText(url), limit: rowLimit(q.paging, scoped) });
    return respond(200, withUnanswered(mergeParts(parts, scoped ? routeAccess(who).see : null, q.paging), unanswered), cors);
  };
  router.get('/v1/connections', (_req: IRequest, url: URL, who: AdminIdentity) => list('tcp', url, who));
  router.get('/v1/udp_sessions', (_req: IRequest, url: URL, who: AdminIdentity) => list('udp', url, who));

  for (const kind of ['connections', 'udp_sessions'] as const) {
    const table: TableName = kind === 'connections' ? 'tcp' : 'udp';
    router.delete(`/v1/${kind}/:id`, async (req: IRequest, _url: URL, who: AdminIdentity) => {
      const live = deps.sources?.live;
      if (live === undefined) return unavailable();
      const peers = deps.sources?.peers ?? null;
      const text = decode(req.params.id);
      const missing = () => respond(404, { error_msg: `${kind === 'connections' ? 'connection' : 'udp session'} ${text} is not open` }, cors);
      const id = splitConnectionId(text);
      if (id === null || (id.pid !== process.pid && peers === null)) return missing();
      // the id names its worker: only that one is asked, first for the row (its route decides the scope), then to end it
      const found = await gatherRows(live, peers, { table, query: '', limit: null, ids: [id.n] }, [id.pid]);
      if (found.unanswered.length > 0) return silent(found.unanswered, cors);
      const row = found.parts[0]?.rows[0];
      const access = routeAccess(who);
      const route = typeof row?.route === 'string' ? row.route : null;
      if (row === undefined || !access.see(route)) return missing();
      if (!access.end(route)) return scopeRefused(cors);
      const done = await endEverywhere(live, peers, table, new Map([[id.pid, [id.n]]]));
      if (done.unanswered.length > 0) return silent(done.unanswered, cors);
      const ended = done.ended.get(id.pid) ?? [];
      if (ended.length === 0) return missing();
      return respond(200, { deleted: ended[0]!, end: 'admin_closed' }, cors);
    });
    router.delete(`/v1/${kind}`, async (_req: IRequest, url: URL, who: AdminIdentity) => {
      const live = deps.sources?.live;
      if (live === undefined) return unavailable();
      const q = query(url);
      if (q instanceof Response) return q;
      if (!hasFilter(q.filter)) return respond(400, { error_msg: 'give a filter (route, upstream, node, client or listener) to end several at once' }, cors);
      if (who.role !== 'admin') return respond(401, { error_msg: 'failed to check token', description: 'invalid method for role viewer' }, cors);
      const peers = deps.sources?.peers ?? null;
      const access = routeAccess(who);
      const both = (id: string | null) => access.see(id) && access.end(id);
      // every worker's matches, then each worker ends its own; a worker silent in either step is named
      const found = await gatherRows(live, peers, { table, query: filterText(url), limit: null });
      const chosen = mergeParts(found.parts, both, null).list;
      const done = await endEverywhere(live, peers, table, idsByPid(chosen));
      const ended = [...done.ended].sort(([a], [b]) => a - b).flatMap(([, ids]) => ids);
      const body: JsonObject = { deleted: ended, total: ended.length, end: 'admin_closed' };
      return respond(200, withUnanswered(body, [...found.unanswered, ...done.unanswered]), cors);
    });
  }
}

/** A DELETE by id whose worker did not answer in time: whether it ended is unknown, so not a 404. */
function silent(unanswered: readonly Unanswered[], cors: boolean): Response {
  const u = unanswered[0]!;
  return respond(504, withUnanswered({ error_msg: `worker ${u.worker} (pid ${u.pid}) did not answer within ${WORKER_ANSWER_MS} ms` }, unanswered), cors);
}

function scopeRefused(cors: boolean): Response {
  return respond(401, { error_msg: 'failed to check token', description: 'method DELETE is not in the key\'s scope for this route' }, cors);
}
