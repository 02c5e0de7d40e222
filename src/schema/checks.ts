// Upstream `checks` schema (spec 3.4, APISIX's health_checker): ranges and types of every field weir
// reads, plus the HTTP-only fields APISIX accepts (validated, then ignored by weir's TCP probes).

import * as v from 'valibot';
import { type AnySchema, arrayOf, bool, hostSchema, intRange, looseObj, numMin, oneOf, opt, str, strictObj } from './common';

const PROBE_TYPES = ['http', 'https', 'tcp'];

/** http_statuses: at least one status 200..599, no repeats. */
const statusesSchema: AnySchema = v.pipe(
  arrayOf(intRange(200, 599), 1),
  v.check((a) => new Set(a as number[]).size === (a as number[]).length, (i) => duplicateMessage(i.input as number[])),
);

function duplicateMessage(list: number[]): string {
  for (let j = 1; j < list.length; j++) {
    const i = list.indexOf(list[j]!);
    if (i < j) return `expected unique items but items ${i + 1} and ${j + 1} are equal`;
  }
  return 'expected unique items';
}

/** Active thresholds are 1..254; passive ones may be 0 (that counter never trips). */
const count = (min: number): AnySchema => intRange(min, 254);

const activeSchema = looseObj({
  type: opt(oneOf(PROBE_TYPES)),
  timeout: opt(numMin(0)),
  concurrency: opt(intRange(1)),
  host: opt(hostSchema()),
  port: opt(intRange(1, 65535)),
  http_path: opt(str()),
  http_method: opt(str()),
  http_req_body: opt(str()),
  https_verify_certificate: opt(bool()),
  req_headers: opt(arrayOf(str(), 1)),
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
  type: opt(oneOf(PROBE_TYPES)),
  healthy: opt(looseObj({ successes: opt(count(0)), http_statuses: opt(statusesSchema) })),
  unhealthy: opt(looseObj({
    http_failures: opt(count(0)),
    tcp_failures: opt(count(0)),
    timeouts: opt(count(0)),
    http_statuses: opt(statusesSchema),
  })),
});

/** `checks`: `active` is required, nothing else may sit beside active/passive. */
export const checksSchema: AnySchema = strictObj({ active: activeSchema, passive: opt(passiveSchema) });
