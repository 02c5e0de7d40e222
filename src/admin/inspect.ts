// The Admin API's inspection routes (weir extensions): explain a connection, list and end what is open.
//   GET    /apisix/admin/stream_routes/explain?remote_addr=&server_port=&server_addr=&sni=&protocol=&proxy_peer=
//   GET    /v1/connections   /v1/udp_sessions        (?route= &upstream= &node= &client= &listener= &page= &page_size=)
//   DELETE /v1/connections/{id}   /v1/udp_sessions/{id}   and, with a filter, every match (admin role)
// Same allow list and key check as the rest of the Admin API; a scoped key sees only its own routes there.

import { parseConnectionId } from '../proxy/session/conn-id';
import type { IRequest, RouterType } from 'itty-router';
import type { JsonObject } from '../lib/json';
import {
  closeTcp, closeUdp, hasFilter, listTcp, listUdp, parseConnectionQuery, selectTcp, selectUdp, type ConnectionQuery, type RouteVisible,
} from '../inspect/connections';
import { EXPLAIN_PARAMS, explainConnection, parseExplainInput } from '../inspect/explain';
import type { InspectSources } from '../inspect/sources';
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

  router.get('/v1/connections', (_req: IRequest, url: URL, who: AdminIdentity) => {
    const q = query(url);
    if (q instanceof Response) return q;
    return respond(200, listTcp(deps.sources?.live.tcp ?? null, q, routeAccess(who).see), cors);
  });
  router.get('/v1/udp_sessions', (_req: IRequest, url: URL, who: AdminIdentity) => {
    const q = query(url);
    if (q instanceof Response) return q;
    return respond(200, listUdp(deps.sources?.live.udp ?? null, q, routeAccess(who).see), cors);
  });

  for (const kind of ['connections', 'udp_sessions'] as const) {
    router.delete(`/v1/${kind}/:id`, (req: IRequest, _url: URL, who: AdminIdentity) => {
      const live = deps.sources?.live;
      if (live === undefined) return unavailable();
      const id = parseConnectionId(decode(req.params.id)) ?? 0;
      const access = routeAccess(who);
      const missing = () => respond(404, { error_msg: `${kind === 'connections' ? 'connection' : 'udp session'} ${decode(req.params.id)} is not open` }, cors);
      if (!Number.isSafeInteger(id) || id < 1) return missing();
      const everything: ConnectionQuery['filter'] = {};
      let ended: string[];
      if (kind === 'connections') {
        const s = live.tcp === null ? undefined : selectTcp(live.tcp, everything, access.see).find((x) => x.id === id);
        if (s === undefined) return missing();
        if (!access.end(s.matched?.id ?? null)) return scopeRefused(cors);
        ended = closeTcp(live.tcp!, [s]);
      } else {
        const s = live.udp === null ? undefined : selectUdp(live.udp, everything, access.see).find((x) => x.info.id === id);
        if (s === undefined) return missing();
        if (!access.end(s.route.id)) return scopeRefused(cors);
        ended = closeUdp(live.udp!, [s]);
      }
      if (ended.length === 0) return missing();
      return respond(200, { deleted: ended[0], end: 'admin_closed' }, cors);
    });
    router.delete(`/v1/${kind}`, (_req: IRequest, url: URL, who: AdminIdentity) => {
      const live = deps.sources?.live;
      if (live === undefined) return unavailable();
      const q = query(url);
      if (q instanceof Response) return q;
      if (!hasFilter(q.filter)) return respond(400, { error_msg: 'give a filter (route, upstream, node, client or listener) to end several at once' }, cors);
      if (who.role !== 'admin') return respond(401, { error_msg: 'failed to check token', description: 'invalid method for role viewer' }, cors);
      const access = routeAccess(who);
      const both = (id: string | null) => access.see(id) && access.end(id);
      const ended =
        kind === 'connections'
          ? live.tcp === null ? [] : closeTcp(live.tcp, selectTcp(live.tcp, q.filter, both))
          : live.udp === null ? [] : closeUdp(live.udp, selectUdp(live.udp, q.filter, both));
      const body: JsonObject = { deleted: ended, total: ended.length, end: 'admin_closed' };
      return respond(200, body, cors);
    });
  }
}

function scopeRefused(cors: boolean): Response {
  return respond(401, { error_msg: 'failed to check token', description: 'method DELETE is not in the key\'s scope for this route' }, cors);
}
