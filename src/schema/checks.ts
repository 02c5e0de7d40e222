// Upstream `checks` schema (spec 3.4, APISIX's health_checker): ranges and types of every field weir
// reads, plus weir's extensions: probe type `udp` with its `udp` payload, and `passive.timeout` (UDP).

import * as v from 'valibot';
import {
  type AnySchema, arrayOf, bool, clip, hostSchema, intRange, looseObj, numAbove, numMin, opt, requireAnyOf, str, strEnum, strictObj,
  strLen, strPattern,
} from './common';

const PROBE_TYPES = ['http', 'https', 'tcp', 'udp'];

/** Bytes written as hex: pairs of hex digits, e.g. "1234ab" ([weir] udp probe payloads). */
const HEX_PATTERN = '^([0-9a-fA-F]{2})+$';
const hexSchema: AnySchema = strPattern(new RegExp(HEX_PATTERN), HEX_PATTERN);

function regexProblem(source: string): string | null {
  try {
    new RegExp(source);
    return null;
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(clip(source))}: ${(err as Error).message}`;
  }
}

const regexSchema: AnySchema = v.pipe(str(), v.check((s) => regexProblem(s) === null, (i) => regexProblem(String(i.input)) ?? ''));

const count1 = (o: Record<string, unknown>, keys: readonly string[]): number => keys.filter((k) => o[k] !== undefined).length;
const SENDS = ['send', 'send_hex'];
const EXPECTS = ['expect', 'expect_hex', 'expect_regex'];

/**
 * [weir] `checks.active.udp`: the probe datagram (text or hex) and what the reply must contain (text or
 * bytes) or match (a regular expression over the reply's bytes read as Latin-1); no expectation: any reply.
 */
const udpProbeSchema: AnySchema = v.pipe(
  strictObj({
    send: opt(strLen(1, 4096)),
    send_hex: opt(hexSchema),
    expect: opt(strLen(1, 4096)),
    expect_hex: opt(hexSchema),
    expect_regex: opt(regexSchema),
  }),
  v.check((o) => count1(o as Record<string, unknown>, SENDS) === 1, 'expected exactly one of "send" and "send_hex"'),
  v.check((o) => count1(o as Record<string, unknown>, EXPECTS) <= 1, 'expected at most one of "expect", "expect_hex" and "expect_regex"'),
);

/** http_statuses: at least one status 200..599, no repeats. */
const statusesSchema: AnySchema = arrayOf(intRange(200, 599), { min: 1, unique: true });

/** Active thresholds are 1..254; passive ones may be 0 (that counter never trips). */
const count = (min: number): AnySchema => intRange(min, 254);

const activeSchema = v.pipe(looseObj({
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
  udp: opt(udpProbeSchema),
}), v.check((a) => (a as Record<string, unknown>).type !== 'udp' || (a as Record<string, unknown>).udp !== undefined,
  'property "udp" is required when type is "udp"'));

const passiveSchema = looseObj({
  type: opt(strEnum(PROBE_TYPES)),
  // [weir] UDP: a session without a reply this many seconds after its first datagram counts as a timeout
  timeout: opt(numAbove(0)),
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
