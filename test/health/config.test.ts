// checks JSON -> compiled health config: APISIX's defaults (spec 3.4), explicit values, the probe-type note.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthChecks, healthCheckNote } from '../../src/health/config';

describe('compileHealthChecks', () => {
  it('no checks: null', () => {
    assert.equal(compileHealthChecks(undefined), null);
    assert.equal(compileHealthChecks(null), null);
  });

  it('an empty active object gets every default; no passive block means no passive counting', () => {
    const c = compileHealthChecks({ active: {} })!;
    assert.deepEqual(c.active, {
      type: 'http', proxyProtocol: null, timeoutMs: 1000, concurrency: 10, port: null,
      healthyIntervalMs: 1000, successes: 2, unhealthyIntervalMs: 1000, tcpFailures: 2, timeouts: 3,
    });
    assert.equal(c.passive, null);
  });

  it('explicit values, fractional timeout, passive defaults and zero thresholds', () => {
    const c = compileHealthChecks({
      active: { type: 'tcp', timeout: 0.25, concurrency: 2, port: 7000, healthy: { interval: 3, successes: 1 }, unhealthy: { interval: 2, tcp_failures: 1, timeouts: 4 } },
      passive: { unhealthy: { tcp_failures: 0 } },
    })!;
    assert.deepEqual(c.active, {
      type: 'tcp', proxyProtocol: null, timeoutMs: 250, concurrency: 2, port: 7000,
      healthyIntervalMs: 3000, successes: 1, unhealthyIntervalMs: 2000, tcpFailures: 1, timeouts: 4,
    });
    assert.deepEqual(c.passive, { type: 'http', successes: 5, tcpFailures: 0, timeouts: 7 });
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
  });

  it('notes probe types weir serves as TCP connects', () => {
    assert.equal(healthCheckNote(compileHealthChecks({ active: { type: 'tcp' } })!), null);
    assert.equal(
      healthCheckNote(compileHealthChecks({ active: {} })!),
      'checks.active.type is "http"; weir probes stream upstreams with TCP connects only',
    );
  });
});
