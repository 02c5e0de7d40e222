// Plugin conf checks with APISIX's wording: lua-resty-jsonschema nests a message per level
// (`property "rules" validation failed: failed to validate item 1: property "weight" validation failed: ...`),
// and APISIX wraps the whole as `failed to check the configuration of stream plugin [name]: <that>`.
// Also the `_meta` object APISIX injects into every plugin schema, and small schema pieces plugins share.

import * as v from 'valibot';
import { type JsonObject, isPlainObject } from '../lib/json';
import { parseCidr } from '../lib/ip';
import { type AnySchema, anyObject, arrayOf, bool, int, opt, str, strictObj } from '../schema/common';
import type { PluginModule } from './types';

/** APISIX's injected `_meta` (schema_def.lua plugin_injected_schema): the same fields, unknown ones refused. */
const metaSchema: AnySchema = strictObj({
  disable: opt(bool()),
  error_response: opt(v.custom((x) => typeof x === 'string' || isPlainObject(x), 'value should match only one schema, but matches none')),
  priority: opt(int()),
  filter: opt(arrayOf(v.unknown() as AnySchema)),
  pre_function: opt(str()),
});

/** The JSON Schema of `_meta`, as GET /apisix/admin/plugins/{name} shows it inside `properties`. */
export const META_JSON_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    disable: { type: 'boolean' },
    error_response: { oneOf: [{ type: 'string' }, { type: 'object' }] },
    priority: { description: 'priority of plugins by customized order', type: 'integer' },
    filter: { description: 'filter determines whether the plugin needs to be executed at runtime', type: 'array' },
    pre_function: { description: 'function to be executed in each phase before execution of plugins', type: 'string' },
  },
  additionalProperties: false,
};

/** The mark APISIX leaves on a plugin schema once `_meta` was injected. */
export const INJECTED_COMMENT = 'this is a mark for our injected plugin schema';

/**
 * One message for a valibot issue, nested like jsonschema's: an object key adds `property "k" validation
 * failed: `, an array position adds `failed to validate item N: ` (1-based), a missing key reads
 * `property "k" is required`, an unknown key of a closed object `additional properties forbidden, found k`.
 */
export function nestedMessage(issue: v.BaseIssue<unknown>): string {
  const path = (issue.path ?? []) as Array<{ key: unknown; origin?: string }>;
  let items = path;
  let message = issue.message;
  const last = path[path.length - 1];
  if (last !== undefined && last.origin === 'key' && (issue.type === 'strict_object' || issue.type === 'loose_object' || issue.type === 'object')) {
    items = path.slice(0, -1);
    message = issue.expected === 'never' ? `additional properties forbidden, found ${String(last.key)}` : `property "${String(last.key)}" is required`;
  }
  for (let i = items.length - 1; i >= 0; i--) {
    const key = items[i]!.key;
    message = typeof key === 'number' ? `failed to validate item ${key + 1}: ${message}` : `property "${String(key)}" validation failed: ${message}`;
  }
  return message;
}

/** Run a schema: null when the value is valid, else the nested message of the first problem. */
export function schemaError(schema: AnySchema, value: unknown): string | null {
  const result = v.safeParse(schema, value, { abortEarly: true });
  return result.success ? null : nestedMessage(result.issues[0]);
}

/**
 * A plugin's own verdict on a conf that is a JSON object: its schema, then `_meta`, then its extra checks.
 * Returns null or the jsonschema-style message (without APISIX's "failed to check ..." prefix).
 */
export function checkPluginConf(plugin: PluginModule, conf: JsonObject): string | null {
  const own = schemaError(plugin.schema, conf);
  if (own !== null) return own;
  if (conf._meta !== undefined) {
    const meta = schemaError(metaSchema, conf._meta);
    if (meta !== null) return `property "_meta" validation failed: ${meta}`;
  }
  return plugin.check?.(conf) ?? null;
}

/** `_meta.disable: true`: the plugin is kept in the stored conf but never runs (APISIX's check_disable). */
export function isDisabled(conf: unknown): boolean {
  return isPlainObject(conf) && isPlainObject(conf._meta) && conf._meta.disable === true;
}

/** GET /apisix/admin/plugins/{name}: the plugin's JSON Schema with APISIX's injected `_meta` and mark. */
export function publishedSchema(plugin: PluginModule): JsonObject {
  const schema = plugin.jsonSchema;
  const properties = isPlainObject(schema.properties) ? schema.properties : {};
  return { ...schema, properties: { ...properties, _meta: META_JSON_SCHEMA }, $comment: INJECTED_COMMENT };
}

// ---- pieces several plugins use ----

const IPV4_SEG = '([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])';
const IPV4 = [IPV4_SEG, IPV4_SEG, IPV4_SEG, IPV4_SEG].join('\\.');
const IPV6 = '([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?';
const IP_DEF_RES = [new RegExp(`^${IPV4}$`), new RegExp(`^${IPV4}/([12]?[0-9]|3[0-2])$`), new RegExp(`^${IPV6}$`), new RegExp(`^${IPV6}/[0-9]{1,3}$`)];

/**
 * APISIX's ip_def: anyOf IPv4, IPv4/CIDR, IPv6, IPv6/CIDR, by regex (which lets some bad IPv6 through:
 * plugins parse the text again and say `invalid ip address: x`).
 */
export const ipDefSchema: AnySchema = v.custom((x) => typeof x === 'string' && IP_DEF_RES.some((re) => re.test(x)), 'object matches none of the required');

/** APISIX's ip_def in JSON Schema form. */
export const IP_DEF_JSON: JsonObject[] = [
  { title: 'IPv4', type: 'string', format: 'ipv4' },
  { title: 'IPv4/CIDR', type: 'string', pattern: `^${IPV4}/([12]?[0-9]|3[0-2])$` },
  { title: 'IPv6', type: 'string', format: 'ipv6' },
  { title: 'IPv6/CIDR', type: 'string', pattern: `^${IPV6}/[0-9]{1,3}$` },
];

/** The first entry of a list that is not a real IP or CIDR (core.ip.validate_cidr_or_ip), or null. */
export function firstInvalidIp(list: readonly string[]): string | null {
  for (const text of list) if (parseCidr(text) === null) return text;
  return null;
}

/** A JSON object whose fields are checked by `entries` and whose other fields are kept (APISIX plugin schemas are open). */
export function pluginObject(entries: v.ObjectEntries): AnySchema {
  return v.pipe(anyObject(), v.looseObject(entries));
}
