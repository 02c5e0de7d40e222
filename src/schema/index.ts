// Validation of Admin API / store objects. Shared by every writer (Admin API, CLI, import, snapshot build).
// Pure functions; they never throw, whatever the input. Messages follow APISIX (spec 2.5).

import type { JsonObject } from '../lib/json';
import type { UpstreamNode } from '../snapshot/types';
import { isValidId } from './common';
import { normalizeNodes as normalizeNodeList } from './nodes';
import type { PluginCheckOptions } from './plugins';
import { checkPluginMetadata } from './plugin-metadata';
import { checkService } from './service';
import { checkSsl } from './ssl';
import { checkStreamRoute } from './stream-route';
import { checkStreamListener } from './stream-listener';
import { checkUpstream } from './upstream';

export type SchemaResult = { ok: true; value: JsonObject } | { ok: false; message: string };

export type { PluginCheckOptions } from './plugins';
export { BALANCERS } from './upstream';

/** Turn a checker's verdict into a SchemaResult; a checker bug becomes a 400, not a crash. */
function run(check: (body: unknown) => string | null, body: unknown): SchemaResult {
  let message: string | null;
  try {
    message = check(body);
  } catch (err) {
    message = `invalid configuration: ${err instanceof Error ? err.message : String(err)}`;
  }
  return message === null ? { ok: true, value: body as JsonObject } : { ok: false, message };
}

/**
 * Validate a stream route body. On success `value` is the body exactly as sent (no defaults filled in),
 * so GET returns what the user sent. Messages follow APISIX: "invalid remote_addr: :/8",
 * "unknown plugin [mqttt-proxy]", "invalid configuration: additional properties forbidden, found foo", ...
 * Does not check references (upstream_id existence): that needs the store.
 */
export function validateStreamRoute(body: unknown, opts: PluginCheckOptions = {}): SchemaResult {
  return run((b) => checkStreamRoute(b, opts), body);
}

/**
 * Validate a service body: shape, its inline upstream's rules, its plugins (the enabled stream plugins, as for a
 * route). Does not check `upstream_id` existence (store).
 */
export function validateService(body: unknown, opts: PluginCheckOptions = {}): SchemaResult {
  return run((b) => checkService(b, opts), body);
}

/** Validate plugin_metadata for plugin `name` (the URL id): `missing plugin name`, `invalid plugin name`, its schema. */
export function validatePluginMetadata(name: string | undefined, body: unknown): SchemaResult {
  return run((b) => checkPluginMetadata(name, b as Record<string, unknown>), body);
}

/**
 * Validate an upstream body (nodes, balancer type, chash key, timeouts, tls shape, ...).
 * Does not check `tls.client_cert_id` existence (store) nor parse PEM (TLS issue).
 */
export function validateUpstream(body: unknown): SchemaResult {
  return run(checkUpstream, body);
}

/** Validate an SSL body: shape, lengths, sni xor snis, certs/keys pairing. PEM is not parsed here. */
export function validateSsl(body: unknown): SchemaResult {
  return run(checkSsl, body);
}

/** [weir] Validate a stream listener body: shape, one address (`addr`), no TLS or PROXY protocol on UDP. */
export function validateStreamListener(body: unknown): SchemaResult {
  return run(checkStreamListener, body);
}

/** APISIX id rule: 1..64 chars of [a-zA-Z0-9-_.], or an integer >= 1 (returned as its string). */
export function normalizeId(id: unknown): string | null {
  return isValidId(id) ? String(id) : null;
}

/**
 * Normalise an already validated upstream's `nodes` (map form {"host:port": weight} or array form
 * [{host, port, weight, priority}]) into a list. Map-form nodes get priority 0.
 */
export function normalizeNodes(nodes: unknown): UpstreamNode[] {
  return normalizeNodeList(nodes);
}
