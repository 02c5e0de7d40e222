// Validation of Admin API / store objects. Shared by every writer (Admin API, CLI, import, snapshot build).
// STUB: signatures only; the schema work replaces the bodies.

import type { JsonObject } from '../store/types';
import type { UpstreamNode } from '../snapshot/types';

export type SchemaResult = { ok: true; value: JsonObject } | { ok: false; message: string };

/**
 * Validate a stream route body. On success `value` is the body exactly as sent (no defaults filled in),
 * so GET returns what the user sent. Messages follow APISIX: "invalid remote_addr: :/8",
 * "unknown plugin [mqttt-proxy]", "invalid configuration: additional properties forbidden, found foo", ...
 * Does not check references (upstream_id existence): that needs the store.
 */
export function validateStreamRoute(body: unknown): SchemaResult {
  return { ok: true, value: body as JsonObject };
}

export function validateUpstream(body: unknown): SchemaResult {
  return { ok: true, value: body as JsonObject };
}

export function validateSsl(body: unknown): SchemaResult {
  return { ok: true, value: body as JsonObject };
}

/** APISIX id rule: 1..64 chars of [a-zA-Z0-9-_.], or an integer >= 1 (returned as its string). */
export function normalizeId(id: unknown): string | null {
  if (typeof id === 'number') return Number.isInteger(id) && id >= 1 ? String(id) : null;
  if (typeof id === 'string' && /^[a-zA-Z0-9._-]{1,64}$/.test(id)) return id;
  return null;
}

/**
 * Normalise an already validated upstream's `nodes` (map form {"host:port": weight} or array form
 * [{host, port, weight, priority}]) into a list. Map-form nodes get priority 0.
 */
export function normalizeNodes(nodes: unknown): UpstreamNode[] {
  void nodes;
  return [];
}
