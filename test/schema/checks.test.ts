// Table tests for upstream `checks` (spec 3.4): ranges, types, active required, unknown keys.

import { describe } from 'node:test';
import { validateStreamRoute, validateUpstream } from '../../src/schema/index';
import { field, runTable } from './schema.cases';

const NO_ACTIVE = 'object matches none of the required: ["active"] or ["active","passive"]';
const up = (checks: unknown) => ({ nodes: { '127.0.0.1:1995': 1 }, checks });
const tcp = (active: Record<string, unknown>, passive?: Record<string, unknown>) =>
  up(passive === undefined ? { active: { type: 'tcp', ...active } } : { active: { type: 'tcp', ...active }, passive });

describe('checks: valid', () => {
  runTable(validateUpstream, [
    ['active only, empty', up({ active: {} }), null],
    ['the APISIX stream example', tcp({ timeout: 1, healthy: { interval: 1, successes: 2 }, unhealthy: { interval: 1, tcp_failures: 2, timeouts: 3 } },
      { type: 'tcp', healthy: { successes: 5 }, unhealthy: { tcp_failures: 2, timeouts: 7 } }), null],
    ['fractional timeout, port, concurrency', tcp({ timeout: 0.5, port: 8080, concurrency: 3 }), null],
    ['thresholds at 254', tcp({ healthy: { successes: 254 }, unhealthy: { tcp_failures: 254, timeouts: 254, http_failures: 254 } }), null],
    ['passive thresholds may be 0', tcp({}, { healthy: { successes: 0 }, unhealthy: { tcp_failures: 0, timeouts: 0, http_failures: 0 } }), null],
    ['HTTP probe fields', up({ active: { type: 'http', http_path: '/status', host: 'foo.com', https_verify_certificate: false, req_headers: ['A: b'],
      healthy: { http_statuses: [200, 302] }, unhealthy: { http_statuses: [500], http_failures: 3 } } }), null],
    ['unknown keys inside healthy/unhealthy are kept', tcp({ healthy: { foo: 1 } }), null],
    ['proxy_protocol (weir): probes send a PROXY header', tcp({ proxy_protocol: true }), null],
    ['[weir] udp probe, text payload and expectation', up({ active: { type: 'udp', udp: { send: 'ping', expect: 'pong' } } }), null],
    ['[weir] udp probe, hex payload, regex expectation', up({ active: { type: 'udp', udp: { send_hex: '00ff', expect_regex: '^\\x00' } } }), null],
    ['[weir] udp probe, hex expectation, no expectation', up({ active: { type: 'udp', udp: { send_hex: 'AB', expect_hex: 'cd' } } }), null],
    ['[weir] passive timeout', tcp({}, { timeout: 0.5 }), null],
  ]);
});

describe('checks: invalid', () => {
  runTable(validateUpstream, [
    ['no active (APISIX health-check.t 12)', up({ passive: {} }), field('checks', NO_ACTIVE)],
    ['a bad passive is reported before a missing active (health-check.t 5)', up({ passive: { unhealthy: { http_statuses: [500, 600] } } }),
      field('checks.passive.unhealthy.http_statuses[1]', 'expected 600 to be at most 599')],
    ['unknown key beside active', up({ active: {}, extra: 1 }), field('checks', 'additional properties forbidden, found extra')],
    ['active type grpc', tcp({ type: 'grpc' }), field('checks.active.type', 'matches none of the enum values')],
    ['[weir] type udp without udp', tcp({ type: 'udp' }), field('checks.active', 'property "udp" is required when type is "udp"')],
    ['[weir] udp without a payload', tcp({ type: 'udp', udp: { expect: 'x' } }), field('checks.active.udp', 'expected exactly one of "send" and "send_hex"')],
    ['[weir] udp with both payloads', tcp({ type: 'udp', udp: { send: 'x', send_hex: '78' } }), field('checks.active.udp', 'expected exactly one of "send" and "send_hex"')],
    ['[weir] udp with two expectations', tcp({ type: 'udp', udp: { send: 'x', expect: 'a', expect_hex: '61' } }),
      field('checks.active.udp', 'expected at most one of "expect", "expect_hex" and "expect_regex"')],
    ['[weir] udp hex of odd length', tcp({ type: 'udp', udp: { send_hex: 'abc' } }),
      field('checks.active.udp.send_hex', 'failed to match pattern "^([0-9a-fA-F]{2})+$" with "abc"')],
    ['[weir] udp regex that does not compile', tcp({ type: 'udp', udp: { send: 'x', expect_regex: '(' } }),
      field('checks.active.udp.expect_regex', 'invalid regular expression "(": Invalid regular expression: /(/: Unterminated group')],
    ['[weir] udp unknown key', tcp({ type: 'udp', udp: { send: 'x', reply: 'y' } }), field('checks.active.udp', 'additional properties forbidden, found reply')],
    ['[weir] passive timeout 0', tcp({}, { timeout: 0 }), field('checks.passive.timeout', 'expected 0 to be greater than 0')],
    ['proxy_protocol not a boolean', tcp({ proxy_protocol: 2 }), field('checks.active.proxy_protocol', 'wrong type: expected boolean, got number')],
    ['timeout string', tcp({ timeout: '1' }), field('checks.active.timeout', 'wrong type: expected number, got string')],
    ['concurrency 0', tcp({ concurrency: 0 }), field('checks.active.concurrency', 'expected 0 to be at least 1')],
    ['port 65536', tcp({ port: 65536 }), field('checks.active.port', 'expected 65536 to be at most 65535')],
    ['healthy interval 0', tcp({ healthy: { interval: 0 } }), field('checks.active.healthy.interval', 'expected 0 to be at least 1')],
    ['healthy interval fractional', tcp({ healthy: { interval: 0.5 } }), field('checks.active.healthy.interval', 'wrong type: expected integer, got number')],
    ['active successes 0', tcp({ healthy: { successes: 0 } }), field('checks.active.healthy.successes', 'expected 0 to be at least 1')],
    ['active tcp_failures 255', tcp({ unhealthy: { tcp_failures: 255 } }), field('checks.active.unhealthy.tcp_failures', 'expected 255 to be at most 254')],
    ['active timeouts 0', tcp({ unhealthy: { timeouts: 0 } }), field('checks.active.unhealthy.timeouts', 'expected 0 to be at least 1')],
    ['unhealthy interval string', tcp({ unhealthy: { interval: '1' } }), field('checks.active.unhealthy.interval', 'wrong type: expected integer, got string')],
    ['passive tcp_failures -1', tcp({}, { unhealthy: { tcp_failures: -1 } }), field('checks.passive.unhealthy.tcp_failures', 'expected -1 to be at least 0')],
    ['passive successes 300', tcp({}, { healthy: { successes: 300 } }), field('checks.passive.healthy.successes', 'expected 300 to be at most 254')],
    ['passive type bad', tcp({}, { type: 'grpc' }), field('checks.passive.type', 'matches none of the enum values')],
    ['http_statuses empty', tcp({ healthy: { http_statuses: [] } }), field('checks.active.healthy.http_statuses', 'expect array to have at least 1 items')],
    ['http_statuses 199', tcp({ unhealthy: { http_statuses: [199] } }), field('checks.active.unhealthy.http_statuses[0]', 'expected 199 to be at least 200')],
    ['http_statuses repeated', tcp({ healthy: { http_statuses: [200, 302, 200] } }),
      field('checks.active.healthy.http_statuses', 'expected unique items but items 1 and 3 are equal')],
    ['req_headers not strings', tcp({ req_headers: [1] }), field('checks.active.req_headers[0]', 'wrong type: expected string, got number')],
  ]);
});

describe('checks in an inline upstream', () => {
  runTable(validateStreamRoute, [
    ['inline checks are checked with the upstream. prefix', { upstream: tcp({ unhealthy: { tcp_failures: 0 } }) },
      field('upstream.checks.active.unhealthy.tcp_failures', 'expected 0 to be at least 1')],
  ]);
});
