// The one error type of object operations: an HTTP-ish status plus the exact APISIX response body.
// The admin layer turns it into a Response in one place; the CLI prints `body.error_msg`.

import type { JsonObject } from '../lib/json';
import type { Resource } from '../store/types';

export type ObjectErrorStatus = 400 | 404 | 405 | 409 | 503;

export class ObjectError extends Error {
  readonly code = 'ERR_OBJECT';
  constructor(
    readonly status: ObjectErrorStatus,
    /** The response body: `{"error_msg":...}`, `{"message":"Key not found"}`, or a plain string (paging). */
    readonly body: JsonObject | string,
  ) {
    super(typeof body === 'string' ? body : String(body.error_msg ?? body.message ?? `status ${status}`));
    this.name = 'ObjectError';
  }
}

/** 400 `{"error_msg": msg}`: validation, id and reference failures. */
export function badRequest(msg: string): ObjectError {
  return new ObjectError(400, { error_msg: msg });
}

/** 404 with APISIX's etcd-style body (`message`, not `error_msg`: ADC and the ingress controller parse it). */
export function keyNotFound(): ObjectError {
  return new ObjectError(404, { message: 'Key not found' });
}

/** 503: the store itself failed (busy, disk full, bad row). */
export function storeFailure(err: unknown): ObjectError {
  return new ObjectError(503, { error_msg: err instanceof Error ? err.message : String(err) });
}

/** The word APISIX uses for a resource in messages ("missing stream route id"). */
export const KIND: Record<Resource, string> = {
  stream_routes: 'stream route',
  upstreams: 'upstream',
  ssls: 'ssl',
  services: 'service',
  plugin_metadata: 'plugin_metadata',
  stream_listeners: 'stream listener',
};

/** 405 for a verb a resource does not take: ``not supported `POST` method for plugin_metadata``. */
export function notSupported(method: string, res: Resource): ObjectError {
  return new ObjectError(405, { error_msg: `not supported \`${method}\` method for ${KIND[res]}` });
}

/** `/apisix/<resource>/<id>`: the `key` field of every envelope. */
export function keyOf(res: Resource, id: string): string {
  return `/apisix/${res}/${id}`;
}
