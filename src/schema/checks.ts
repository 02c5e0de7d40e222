// Upstream `checks` schema (spec 3.4, APISIX's health_checker): ranges and types of every field weir
// reads, plus the HTTP-only fields APISIX accepts (validated, then ignored by weir's TCP probes).

import * as v from 'valibot';
import {
  type AnySchema, arrayOf, bool, hostSchema, intRange, looseObj, numMin, opt, requireAnyOf, str, strEnum, strictObj,
} from './common';

const PROBE_TYPES = ['http', 'https', 'tcp'];

/** http_statuses: at least one status 200..599, no repeats. */
const statusesSchema: AnySchema = arrayOf(intRange(200, 599), { min: 1, unique: true });

/** Active thresholds are 1..254; passive ones may be 0 (that counter never trips). */
const count = (min: number): AnySchema => intRange(min, 254);

const activeSchema = looseObj({
  type: opt(strEnum(PROBE_TYPES)),
  timeout: opt(numMin(0)),
  concurrency: opt(intRange(1)),
  host: opt(hostSchema()),
  port: opt(intRange(1, 65535)),
  http_path: opt(str()),
  http_method: opt(str()),
  http_req_body: opt(str()),
  https_verify_certificate: opt(bool()),
  req_headers: opt(arrayOf(str(), { min: 1 })),
  // weir: probes send a PROXY header (LOCAL) first, for nodes that require one
  proxy_protocol: opt(bool()),
  healthy: opt(looseObj({ interval: opt(intRange(1)), successes: opt(count(1)), http_statuses: opt(statusesSchema) })),
  unhealthy: opt(looseObj({
    interval: opt(intRange(1)),
    http_failures: opt(count(1)),
    tcp_failures: opt(count(1)),
    timeouts: opt(count(1)),
    http_statuses: opt(statusesSchema),
  })),
});

const passiveSchema = looseObj({
  type: opt(strEnum(PROBE_TYPES)),
  healthy: opt(looseObj({ successes: opt(count(0)), http_statuses: opt(statusesSchema) })),
  unhealthy: opt(looseObj({
    http_failures: opt(count(0)),
    tcp_failures: opt(count(0)),
    timeouts: opt(count(0)),
    http_statuses: opt(statusesSchema),
  })),
});

/**
 * `checks`: nothing else may sit beside active/passive ([weir]: APISIX leaves the object open). `active` is
 * required through APISIX's anyOf, which jsonschema checks after the properties: a bad `passive` is
 * reported before a missing `active`.
 */
export const checksSchema: AnySchema = v.pipe(
  strictObj({ active: opt(activeSchema), passive: opt(passiveSchema) }),
  requireAnyOf([['active'], ['active', 'passive']]),
);
