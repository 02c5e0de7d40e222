// Reference checks between objects. They need the store, so they run inside the write transaction
// (after schema validation), where a concurrent delete cannot slip in between check and write.

import { badRequest } from './errors';
import { type JsonObject, isPlainObject } from '../lib/json';
import type { Resource, Store } from '../store/types';

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** upstream.tls.client_cert_id must name an ssl object of type "client". */
function checkClientCert(store: Store, upstream: unknown): void {
  if (!isPlainObject(upstream) || !isPlainObject(upstream.tls)) return;
  const certId = upstream.tls.client_cert_id;
  if (!present(certId)) return;
  const ssl = store.get('ssls', String(certId));
  if (!ssl) throw badRequest(`failed to fetch ssl info by ssl id [${String(certId)}], response code: 404`);
  if (ssl.value.type !== 'client') throw badRequest(`failed to fetch ssl info by ssl id [${String(certId)}], wrong ssl type`);
}

function checkUpstreamId(store: Store, upstreamId: unknown): void {
  if (present(upstreamId) && !store.get('upstreams', String(upstreamId))) {
    throw badRequest(`failed to fetch upstream info by upstream id [${String(upstreamId)}], response code: 404`);
  }
}

/**
 * traffic-split's weighted_upstreams[].upstream_id must exist too ([weir] tightening: APISIX only finds out per
 * connection, with a 500); its inline upstreams follow the client_cert_id rule.
 */
function checkPluginReferences(store: Store, plugins: unknown): void {
  if (!isPlainObject(plugins) || !isPlainObject(plugins['traffic-split'])) return;
  const rules = plugins['traffic-split'].rules;
  if (!Array.isArray(rules)) return;
  for (const rule of rules) {
    if (!isPlainObject(rule) || !Array.isArray(rule.weighted_upstreams)) continue;
    for (const w of rule.weighted_upstreams) {
      if (!isPlainObject(w)) continue;
      checkUpstreamId(store, w.upstream_id);
      checkClientCert(store, w.upstream);
    }
  }
}

/**
 * Check what `value` (an already validated object) points at. Messages are APISIX's:
 * `failed to fetch upstream info by upstream id [99], response code: 404`,
 * `failed to fetch service info by service id [9], response code: 404`.
 */
export function checkReferences(store: Store, res: Resource, value: JsonObject): void {
  if (res === 'upstreams') {
    checkClientCert(store, value);
    return;
  }
  if (res !== 'stream_routes' && res !== 'services') return;
  checkUpstreamId(store, value.upstream_id);
  const serviceId = value.service_id;
  if (res === 'stream_routes' && present(serviceId) && !store.get('services', String(serviceId))) {
    throw badRequest(`failed to fetch service info by service id [${String(serviceId)}], response code: 404`);
  }
  checkClientCert(store, value.upstream);
  checkPluginReferences(store, value.plugins);
}

/**
 * Refuse to delete an SSL object an upstream or a route's inline upstream names in tls.client_cert_id
 * ([weir] tightening like the upstream one; APISIX has no SSL delete check): the upstream would stop
 * working at the next snapshot. Names the first user, upstreams first.
 */
export function checkSslUnused(store: Store, sslId: string): void {
  const users = store.objectsUsingSsl(sslId);
  if (users.length > 0) {
    const { res, id } = users[0]!;
    throw badRequest(`can not delete this ssl, ${res === 'upstreams' ? 'upstream' : 'stream_route'} [${id}] is still using it now`);
  }
}

const USER_KIND = { stream_routes: 'stream_route', services: 'service' } as const;

/**
 * Refuse to delete an upstream a stream route or a service still uses, directly or in traffic-split (APISIX's
 * messages, `plugin in service [1]` for the plugin case; stream routes are weir's tightening). Names the first.
 */
export function checkUpstreamUnused(store: Store, upstreamId: string): void {
  const user = store.upstreamUsers(upstreamId)[0];
  if (user === undefined) return;
  const who = `${USER_KIND[user.res]} [${user.id}]`;
  throw badRequest(`can not delete this upstream, ${user.via === 'plugin' ? `plugin in ${who}` : who} is still using it now`);
}

/** Refuse to delete a service a stream route names (APISIX's delete_checker for services). */
export function checkServiceUnused(store: Store, serviceId: string): void {
  const users = store.routesUsingService(serviceId);
  if (users.length > 0) throw badRequest(`can not delete this service directly, stream_route [${users[0]}] is still using it now`);
}
