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

/**
 * Check what `value` (an already validated object) points at. Messages are APISIX's:
 * `failed to fetch upstream info by upstream id [99], response code: 404`. weir has no services, so any
 * `service_id` fails the same way APISIX fails for a missing service.
 */
export function checkReferences(store: Store, res: Resource, value: JsonObject): void {
  if (res === 'upstreams') {
    checkClientCert(store, value);
    return;
  }
  if (res !== 'stream_routes') return;
  const upstreamId = value.upstream_id;
  if (present(upstreamId) && !store.get('upstreams', String(upstreamId))) {
    throw badRequest(`failed to fetch upstream info by upstream id [${String(upstreamId)}], response code: 404`);
  }
  const serviceId = value.service_id;
  if (present(serviceId)) {
    throw badRequest(`failed to fetch service info by service id [${String(serviceId)}], response code: 404`);
  }
  checkClientCert(store, value.upstream);
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

/** Refuse to delete an upstream a stream route still uses (names the first route in id order). */
export function checkUpstreamUnused(store: Store, upstreamId: string): void {
  const users = store.routesUsingUpstream(upstreamId);
  if (users.length > 0) {
    throw badRequest(`can not delete this upstream, stream_route [${users[0]}] is still using it now`);
  }
}
