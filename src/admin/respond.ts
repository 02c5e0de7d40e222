// Admin API responses: JSON envelope headers, CORS, and THE one place where errors become status codes.

import { logger } from '../log/logger';
import { ObjectError } from '../objects/errors';
import type { JsonObject } from '../lib/json';

/** Request bodies above this are refused (APISIX allows 1.5 MiB; weir keeps a round 1 MiB). */
export const MAX_BODY_BYTES = 1048576;

const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': '*',
};

const CORS_PREFLIGHT_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, PUT, OPTIONS, DELETE, PATCH',
  'Access-Control-Max-Age': '3600',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Allow-Credentials': 'true',
};

/**
 * A JSON response with `X-API-VERSION: v3`. A string body is sent as is (APISIX's paging error is a
 * bare string); `null` sends no body (HEAD, schema validation success).
 */
export function respond(status: number, body: JsonObject | string | null, cors: boolean): Response {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-API-VERSION': 'v3',
    ...(cors ? CORS_HEADERS : {}),
  };
  const text = body === null ? null : typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, headers });
}

/** OPTIONS answer when deployment.admin.enable_admin_cors is on. */
export function preflight(): Response {
  return new Response(null, {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'X-API-VERSION': 'v3', ...CORS_PREFLIGHT_HEADERS },
  });
}

/** A refusal decided by the admin layer itself (auth, allow list, routing, body). */
export class AdminError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404,
    readonly body: JsonObject,
  ) {
    super(String(body.error_msg ?? body.message ?? status));
    this.name = 'AdminError';
  }
}

/**
 * Map anything thrown while handling a request to a Response. ObjectError and AdminError carry their
 * status and exact body; anything else is a bug or an environment failure: 500, and it is logged.
 */
export function errorResponse(err: unknown, cors: boolean, where: string): Response {
  if (err instanceof ObjectError || err instanceof AdminError) return respond(err.status, err.body, cors);
  const message = err instanceof Error ? err.message : String(err);
  logger.error('admin request failed', { where, error: message, stack: err instanceof Error ? err.stack : undefined });
  return respond(500, { error_msg: `internal error: ${message}` }, cors);
}
