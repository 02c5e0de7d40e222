// Upstream object schema (spec 3.2): used for /upstreams and for a stream route's inline `upstream`.
// Shape first (valibot), then the rules APISIX checks in code (apisix/upstream.lua): node keys, chash key.

import * as v from 'valibot';
import {
  type AnySchema, arrayOf, bool, clip, commonEntries, fieldError, hostSchema, idSchema, intRange, looseObj,
  nameSchema, numAbove, numMin, oneOf, opt, patternMessage, pemOrRef, runSchema, str, strEnum, strictObj,
} from './common';
import { checkBareIpv6, checkNodes, nodesSchema } from './nodes';
import { checksSchema } from './checks';
import { checkPemPair } from './pem';
import { compileUpstreamProxyPlans } from '../proxy/connect/proxy-prefix';

/** Balancers weir implements. APISIX accepts any string and fails at runtime; weir rejects at write time. */
export const BALANCERS: readonly string[] = ['roundrobin', 'chash', 'least_conn', 'ewma'];
export const HASH_ON: readonly string[] = ['vars', 'header', 'cookie', 'consumer', 'vars_combinations'];
export const SCHEMES: readonly string[] = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'udp', 'kafka'];

const NO_DISCOVERY = 'service discovery is not supported by weir';

const timeoutSchema = looseObj({ connect: numAbove(0), send: numAbove(0), read: numAbove(0) });

const typeSchema = v.pipe(str(), v.check((t) => BALANCERS.includes(t), (i) => `unknown balancer ${clip(String(i.input))}`));

const tlsSchema = v.pipe(
  looseObj({
    client_cert: opt(pemOrRef(128, 65536)),
    client_key: opt(pemOrRef(64, 65536)),
    client_cert_id: opt(idSchema()),
    verify: opt(bool()),
  }),
  v.check((t) => tlsDependency(t as Record<string, unknown>) === null, (i) => tlsDependency(i.input as Record<string, unknown>) ?? ''),
);

/**
 * APISIX's `dependencies`: client_cert and client_key come together; client_cert_id excludes the pair.
 * Whichever order jsonschema visits them in, at most one of the three can fail for a given body.
 */
function tlsDependency(t: Record<string, unknown>): string | null {
  const has = (k: string) => t[k] !== undefined;
  const failed = (prop: string, why: string) => `failed to validate dependent schema for "${prop}": ${why}`;
  if (has('client_cert') && !has('client_key')) return failed('client_cert', 'property "client_key" is required');
  if (has('client_key') && !has('client_cert')) return failed('client_key', 'property "client_cert" is required');
  if (has('client_cert_id') && has('client_cert') && has('client_key')) {
    return failed('client_cert_id', "value wasn't supposed to match schema");
  }
  return null;
}


/**
 * weir's `proxy_protocol` (send a PROXY header to the nodes): the shape here, the TLV rules in
 * checkProxyProtocol (the writer's own compile step, so what validates is what runs).
 */
const proxyProtocolSchema = strictObj({ version: oneOf([1, 2]), tlvs: opt(arrayOf(v.unknown() as AnySchema)) });

const keepaliveSchema = looseObj({ size: opt(intRange(1)), idle_timeout: opt(numMin(0)), requests: opt(intRange(1)) });

/** Fields of an upstream. Order matters: with abortEarly the first failing field is the one reported. */
function upstreamEntries(inline: boolean): v.ObjectEntries {
  const common = commonEntries();
  if (inline) delete common.id;
  return {
    ...common,
    name: opt(nameSchema()),
    // checked before `nodes` so a discovery-only body gets this message, not "nodes is required"
    service_name: opt(v.never(NO_DISCOVERY)),
    discovery_type: opt(v.never(NO_DISCOVERY)),
    discovery_args: opt(v.never(NO_DISCOVERY)),
    nodes: opt(nodesSchema),
    type: opt(typeSchema),
    hash_on: opt(strEnum(HASH_ON)),
    key: opt(str()),
    retries: opt(intRange(0)),
    retry_timeout: opt(numMin(0)),
    timeout: opt(timeoutSchema),
    scheme: opt(oneOf(SCHEMES)),
    tls: opt(tlsSchema),
    checks: opt(checksSchema),
    proxy_protocol: opt(proxyProtocolSchema),
    keepalive_pool: opt(keepaliveSchema),
    pass_host: opt(strEnum(['pass', 'node', 'rewrite'])),
    upstream_host: opt(hostSchema()),
  };
}

// APISIX's `oneOf: [{required: [nodes]}, {required: [service_name, discovery_type]}]`, checked after the
// properties; discovery is refused above, so only `nodes` can satisfy it.
const needsNodes = v.check<unknown, string>(
  (u) => (u as Record<string, unknown>).nodes !== undefined,
  'value should match only one schema, but matches none',
);

export const upstreamSchema: AnySchema = v.pipe(strictObj(upstreamEntries(false)), needsNodes);
/** A stream route's inline upstream: same rules, no id of its own. */
export const inlineUpstreamSchema: AnySchema = v.pipe(strictObj(upstreamEntries(true)), needsNodes);

// chash key rules per hash_on (apisix/upstream.lua key_schema)
const VARS_KEY = /^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$/;
const VARS_KEY_SRC = String.raw`^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`;
const NAME_KEY = /^[a-zA-Z0-9-_]+$/;
const NAME_KEY_SRC = '^[a-zA-Z0-9-_]+$';

/**
 * Rules beyond the shape, for an upstream whose shape already passed (apisix/upstream.lua
 * check_upstream_conf). `path` is where the upstream sits: [] or ["upstream"] for a route's inline one.
 */
export function checkUpstreamRules(up: Record<string, unknown>, path: readonly string[]): string | null {
  const nodesError = checkNodes(up.nodes, [...path, 'nodes']);
  if (nodesError) return nodesError;
  const tls = up.tls as Record<string, unknown> | undefined;
  if (tls !== undefined && typeof tls.client_cert === 'string' && typeof tls.client_key === 'string') {
    const pemError = checkPemPair(tls.client_cert, tls.client_key);
    if (pemError) return pemError;
  }
  const proxyError = checkProxyProtocol(up.proxy_protocol, path);
  if (proxyError) return proxyError;
  if (up.type !== 'chash') return null;
  const hashOn = (up.hash_on as string | undefined) ?? 'vars';
  const key = up.key as string | undefined;
  if (hashOn === 'consumer') return null;
  if (key === undefined) return 'missing key';
  const rule = hashOn === 'vars' ? [VARS_KEY, VARS_KEY_SRC] as const
    : hashOn === 'header' || hashOn === 'cookie' ? [NAME_KEY, NAME_KEY_SRC] as const : null;
  // APISIX checks the key against a schema of its own, so the message names no property
  if (rule && !rule[0].test(key)) return `invalid configuration: ${patternMessage(rule[1], key)}`;
  return null;
}

/** `proxy_protocol.tlvs` items: a known name or {type: 0xE0-0xEF, value}; the message names the item. */
function checkProxyProtocol(pp: unknown, path: readonly string[]): string | null {
  if (pp === undefined) return null;
  const tlvs = (pp as { tlvs?: unknown[] }).tlvs ?? [];
  for (let i = 0; i < tlvs.length; i++) {
    const item = tlvs[i];
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const extra = Object.keys(item).find((k) => k !== 'type' && k !== 'value');
      if (extra !== undefined) return fieldError([...path, 'proxy_protocol', 'tlvs', i], `additional properties forbidden, found ${clip(extra)}`);
      for (const key of ['type', 'value']) {
        if (!(key in item)) return fieldError([...path, 'proxy_protocol', 'tlvs', i], `property "${key}" is required`);
      }
    }
  }
  const plans = compileUpstreamProxyPlans(pp);
  if (typeof plans !== 'string') return null;
  // the writer's message starts with the item's dotted path ("proxy_protocol.tlvs[2]: ..."): nest it like the schema
  const colon = plans.indexOf(': ');
  const steps = plans.slice(0, colon).split(/[.[\]]+/).filter((k) => k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  return fieldError([...path, ...steps], plans.slice(colon + 2));
}

/** Full upstream validation (bare IPv6 hosts first, as APISIX; then shape and rules); null when valid. */
export function checkUpstream(body: unknown): string | null {
  const nodes = body !== null && typeof body === 'object' ? (body as Record<string, unknown>).nodes : undefined;
  return checkBareIpv6(nodes) ?? runSchema(upstreamSchema, body) ?? checkUpstreamRules(body as Record<string, unknown>, []);
}
