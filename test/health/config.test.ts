// checks JSON -> compiled health config: APISIX's defaults (spec 3.4), explicit values, weir's UDP extensions.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthChecks, HEALTHY_STATUSES, UNHEALTHY_STATUSES } from '../../src/health/config';

const DEFAULT_ACTIVE = {
  type: 'http', proxyProtocol: null, timeoutMs: 1000, concurrency: 10, port: null, host: null,
  httpPath: '/', httpMethod: 'GET', httpBody: '', reqHeaders: [], verify: true,
  healthyIntervalMs: 1000, successes: 2, healthyStatuses: [200, 302],
  unhealthyIntervalMs: 1000, tcpFailures: 2, timeouts: 3, httpFailures: 5,
  unhealthyStatuses: [429, 404, 500, 501, 502, 503, 504, 505], udp: null,
};

describe('compileHealthChecks', () => {
  it('no checks: null', () => {
    assert.equal(compileHealthChecks(undefined), null);
    assert.equal(compileHealthChecks(null), null);
  });

  it('an empty active object gets every default (type http, as in APISIX); no passive block means no passive counting', () => {
    const c = compileHealthChecks({ active: {} })!;
    assert.deepEqual(c.active, DEFAULT_ACTIVE);
    assert.deepEqual([HEALTHY_STATUSES, UNHEALTHY_STATUSES], [[200, 302], [429, 404, 500, 501, 502, 503, 504, 505]]);
    assert.equal(c.passive, null);
  });

  it('explicit values, fractional timeout, passive defaults and zero thresholds', () => {
    const c = compileHealthChecks({
      active: { type: 'tcp', timeout: 0.25, concurrency: 2, port: 7000, healthy: { interval: 3, successes: 1 }, unhealthy: { interval: 2, tcp_failures: 1, timeouts: 4 } },
      passive: { unhealthy: { tcp_failures: 0 } },
    })!;
    assert.deepEqual(c.active, {
      ...DEFAULT_ACTIVE, type: 'tcp', timeoutMs: 250, concurrency: 2, port: 7000,
      healthyIntervalMs: 3000, successes: 1, unhealthyIntervalMs: 2000, tcpFailures: 1, timeouts: 4,
    });
    assert.deepEqual(c.passive, { type: 'http', successes: 5, tcpFailures: 0, timeouts: 7, timeoutMs: 2000 });
  });

  it('HTTP probe fields: path, method, body, host, headers, verify, status lists, http_failures', () => {
    const c = compileHealthChecks({
      active: {
        type: 'https', http_path: '/primary', http_method: 'HEAD', http_req_body: 'x', host: 'db.example.test',
        req_headers: ['User-Agent: weir'], https_verify_certificate: false,
        healthy: { http_statuses: [200] }, unhealthy: { http_statuses: [503], http_failures: 1 },
      },
    })!;
    assert.deepEqual(c.active, {
      ...DEFAULT_ACTIVE, type: 'https', httpPath: '/primary', httpMethod: 'HEAD', httpBody: 'x', host: 'db.example.test',
      reqHeaders: ['User-Agent: weir'], verify: false, healthyStatuses: [200], unhealthyStatuses: [503], httpFailures: 1,
    });
  });

  it('udp: payload as text or hex, reply expectation as text, hex or regex; passive timeout', () => {
    const text = compileHealthChecks({ active: { type: 'udp', udp: { send: 'ping', expect: 'pong' } }, passive: { timeout: 0.5 } })!;
    assert.deepEqual(text.active.udp, { send: new TextEncoder().encode('ping'), expectBytes: new TextEncoder().encode('pong'), expectRegex: null });
    assert.equal(text.passive!.timeoutMs, 500);
    const hex = compileHealthChecks({ active: { type: 'udp', udp: { send_hex: '00ff10', expect_hex: 'ABcd' } } })!;
    assert.deepEqual(hex.active.udp, { send: Uint8Array.of(0, 255, 16), expectBytes: Uint8Array.of(0xab, 0xcd), expectRegex: null });
    const re = compileHealthChecks({ active: { type: 'udp', udp: { send: 'x', expect_regex: '^\\x12\\x34' } } })!;
    assert.deepEqual(re.active.udp, { send: Uint8Array.of(0x78), expectBytes: null, expectRegex: /^\x12\x34/ });
    // a udp object beside another type is not used
    assert.equal(compileHealthChecks({ active: { type: 'tcp', udp: { send: 'x' } } })!.active.udp, null);
  });

  it('proxy_protocol: true probes with the upstream\'s PROXY version (1 unless it says 2); the text follows it', () => {
    assert.equal(compileHealthChecks({ active: { proxy_protocol: true } })!.active.proxyProtocol, 1);
    assert.equal(compileHealthChecks({ active: { proxy_protocol: true } }, 2)!.active.proxyProtocol, 2);
    assert.equal(compileHealthChecks({ active: { proxy_protocol: false } }, 2)!.active.proxyProtocol, null);
    assert.notEqual(compileHealthChecks({ active: { proxy_protocol: true } }, 1)!.text, compileHealthChecks({ active: { proxy_protocol: true } }, 2)!.text);
  });

  it('the text changes with the config and only with it', () => {
    const a = compileHealthChecks({ active: { type: 'tcp' } })!;
    const b = compileHealthChecks({ active: { type: 'tcp', healthy: { interval: 1 } } })!; // the default, spelled out
    const c = compileHealthChecks({ active: { type: 'tcp', healthy: { interval: 2 } } })!;
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, c.text);
    const u1 = compileHealthChecks({ active: { type: 'udp', udp: { send: 'a' } } })!;
    const u2 = compileHealthChecks({ active: { type: 'udp', udp: { send_hex: '61' } } })!; // the same byte
    const u3 = compileHealthChecks({ active: { type: 'udp', udp: { send: 'b' } } })!;
    assert.equal(u1.text, u2.text);
    assert.notEqual(u1.text, u3.text);
  });
});
