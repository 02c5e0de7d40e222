// One upstream's checker: exact counter and status sequences (scripted probe plane, stepped by hand),
// passive reports, node set changes, and real TCP probes against a live and a closed port.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamChecker, type ProbePlane } from '../../src/health/checker';
import { compileHealthChecks } from '../../src/health/config';
import type { CheckerInfo } from '../../src/health/types';
import { configureErrorLog } from '../../src/log/logger';
import { createNodeTcpDataPlane } from '../../src/runtime/tcp/node/plane';
import type { ConnectErrorKind } from '../../src/runtime/types';
import type { UpstreamNode } from '../../src/snapshot/types';
import { freePort, startEchoServer, startServer } from '../helpers/net';
import { waitFor } from '../helpers/weir';

function node(port: number): UpstreamNode {
  return { host: '127.0.0.1', port, weight: 1, priority: 0, address: `127.0.0.1:${port}` };
}

/** Probes answer synchronously from a table (port -> outcome); every probe is recorded. */
function scriptedPlane(outcomes: Map<number, ConnectErrorKind | 'ok'>) {
  const probes: number[] = [];
  let destroyed = 0;
  const plane: ProbePlane = {
    connect(host, port, _timeoutMs, done) {
      probes.push(port);
      const o = outcomes.get(port) ?? 'ok';
      if (o === 'ok') done(null, { remoteAddress: host, remotePort: port });
      else done({ kind: o, code: o === 'timeout' ? 'ETIMEDOUT' : 'ECONNREFUSED', message: o }, null);
    },
    destroy: () => void destroyed++,
    exchange: () => {},
  };
  return { plane, probes, destroyed: () => destroyed };
}

const statusOf = (info: CheckerInfo, port: number) => info.nodes.find((n) => n.port === port)!;

const logs: string[] = [];
configureErrorLog({ sink: (t) => logs.push(t) });
after(() => configureErrorLog({ sink: (t) => process.stderr.write(t) }));

describe('UpstreamChecker, stepped', () => {
  const checks = compileHealthChecks({
    active: { type: 'tcp', healthy: { successes: 2 }, unhealthy: { tcp_failures: 2, timeouts: 3 } },
    passive: { type: 'tcp', healthy: { successes: 3 }, unhealthy: { tcp_failures: 1, timeouts: 2 } },
  })!;

  it('active: two refused probes mark a node down, two good ones bring it back', () => {
    const outcomes = new Map<number, ConnectErrorKind | 'ok'>([[2, 'refused']]);
    const { plane, probes, destroyed } = scriptedPlane(outcomes);
    const c = new UpstreamChecker('/apisix/upstreams/1', checks, [node(1), node(2)], plane);
    const seen: string[] = [];
    const step = (healthy: boolean) => {
      c.probeRound(healthy);
      const s = statusOf(c.info(), 2);
      seen.push(`${s.status}:${s.counter.tcp_failure}/${s.counter.success}`);
    };
    step(true); // 1 failure
    step(true); // 2 failures -> unhealthy, counters reset
    assert.equal(c.isUnhealthy(node(2)), true);
    assert.equal(c.unhealthyCount, 1);
    step(true); // healthy round: node 2 is not probed
    outcomes.set(2, 'ok');
    step(false); // 1 success
    step(false); // 2 successes -> healthy
    assert.deepEqual(seen, ['mostly_healthy:1/0', 'unhealthy:0/0', 'unhealthy:0/0', 'mostly_unhealthy:0/1', 'healthy:0/0']);
    assert.deepEqual(probes, [1, 2, 1, 2, 1, 2, 2]);
    assert.equal(destroyed(), 5); // every connected probe is closed at once
    assert.equal(c.unhealthyCount, 0);
    assert.match(logs.join(''), /warn upstream node is unhealthy upstream=\/apisix\/upstreams\/1 node=127\.0\.0\.1:2 after="active tcp_failure 2\/2"/);
    assert.match(logs.join(''), /info upstream node is healthy again upstream=\/apisix\/upstreams\/1 node=127\.0\.0\.1:2 after="active success 2\/2"/);
    c.stop();
  });

  it('active: timeouts count separately; a success resets the failure counters', () => {
    const outcomes = new Map<number, ConnectErrorKind | 'ok'>([[1, 'timeout']]);
    const { plane } = scriptedPlane(outcomes);
    const c = new UpstreamChecker('k', checks, [node(1)], plane);
    c.probeRound(true);
    c.probeRound(true);
    assert.deepEqual(statusOf(c.info(), 1).counter, { success: 0, tcp_failure: 0, timeout_failure: 2, http_failure: 0 });
    outcomes.set(1, 'ok');
    c.probeRound(true);
    const before = Date.now();
    const seen = statusOf(c.info(), 1);
    // the last probe: ok, its time and when it ended (the scripted plane answers at once)
    assert.ok(seen.last_probe!.latency_ms >= 0 && seen.last_probe!.latency_ms < 50, `latency ${seen.last_probe!.latency_ms}`);
    assert.ok(Math.abs(Date.parse(seen.last_probe!.at) - before) < 1000, seen.last_probe!.at);
    assert.deepEqual({ ...seen, last_probe: { ...seen.last_probe!, latency_ms: 0, at: '' } }, {
      ip: '127.0.0.1', port: 1, hostname: '127.0.0.1', status: 'healthy',
      counter: { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 0 },
      last_probe: { ok: true, latency_ms: 0, at: '' },
    });
    outcomes.set(1, 'timeout');
    for (let i = 0; i < 3; i++) c.probeRound(true);
    assert.equal(c.isUnhealthy(node(1)), true); // timeouts: 3
    c.stop();
  });

  it('passive: uses the passive thresholds; a successful connect counts towards recovery', () => {
    const { plane, probes } = scriptedPlane(new Map());
    const c = new UpstreamChecker('k', checks, [node(1), node(2)], plane);
    c.reportConnect(node(1), 'tcp_failure'); // tcp_failures: 1
    assert.equal(c.isUnhealthy(node(1)), true);
    c.reportConnect(node(2), 'timeout');
    assert.equal(statusOf(c.info(), 2).status, 'mostly_healthy');
    c.reportConnect(node(2), 'timeout'); // timeouts: 2
    assert.equal(c.unhealthyCount, 2);
    for (let i = 0; i < 2; i++) c.reportConnect(node(1), null);
    assert.equal(statusOf(c.info(), 1).status, 'mostly_unhealthy');
    c.reportConnect(node(1), null); // successes: 3
    assert.equal(c.isUnhealthy(node(1)), false);
    assert.deepEqual(probes, []); // nothing active happened: never started
    c.stop();
  });

  it('without a passive block, connect reports change nothing', () => {
    const { plane } = scriptedPlane(new Map());
    const c = new UpstreamChecker('k', compileHealthChecks({ active: { type: 'tcp' } })!, [node(1)], plane);
    for (let i = 0; i < 10; i++) c.reportConnect(node(1), 'tcp_failure');
    assert.equal(statusOf(c.info(), 1).status, 'healthy');
    c.stop();
  });

  it('a new node set keeps the state of nodes that stay; removed nodes stop counting', () => {
    const { plane } = scriptedPlane(new Map());
    const c = new UpstreamChecker('k', checks, [node(1), node(2)], plane);
    c.reportConnect(node(1), 'tcp_failure');
    c.setNodes([node(1), node(3), node(3)]);
    assert.deepEqual(c.info().nodes.map((n) => [n.port, n.status]), [[1, 'unhealthy'], [3, 'healthy']]);
    assert.equal(c.unhealthyCount, 1);
    c.reportConnect(node(2), 'tcp_failure'); // gone: ignored
    assert.equal(c.unhealthyCount, 1);
    c.stop();
  });

  it('checks.active.port overrides the node port for probes', () => {
    const { plane, probes } = scriptedPlane(new Map());
    const c = new UpstreamChecker('k', compileHealthChecks({ active: { type: 'tcp', port: 9 } })!, [node(1), node(2)], plane);
    c.probeRound(true);
    assert.deepEqual(probes, [9, 9]);
    c.stop();
  });
});

describe('UpstreamChecker, real probes', () => {
  it('marks a closed port down and keeps a live one up, on its own timers; stop() ends probing', async () => {
    const live = await startEchoServer();
    const dead = await freePort();
    const checks = compileHealthChecks({ active: { type: 'tcp', unhealthy: { tcp_failures: 1 } } })!;
    // 30 ms intervals instead of whole seconds: the config is built here, not through the schema
    const fast = { ...checks, active: { ...checks.active, healthyIntervalMs: 30, unhealthyIntervalMs: 30 } };
    const c = new UpstreamChecker('k', fast, [node(live.port), node(dead)], createNodeTcpDataPlane());
    try {
      c.start();
      await waitFor(() => c.isUnhealthy(node(dead)), 10_000, 'the closed port marked down');
      await waitFor(() => live.accepted >= 3, 10_000, 'three probes of the live port');
      assert.equal(c.isUnhealthy(node(live.port)), false);
      c.stop();
      const accepted = live.accepted;
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(live.accepted <= accepted + 1, 'no probe rounds after stop()'); // one may have been in flight
    } finally {
      c.stop();
      await live.close();
    }
  });

  it('with checks.active.proxy_protocol a probe sends a LOCAL header first (v2, or v1 "PROXY UNKNOWN"); without, nothing', async () => {
    const got: Buffer[][] = [];
    const srv = await startServer((sock) => {
      const mine: Buffer[] = [];
      got.push(mine);
      sock.on('data', (d: Buffer) => mine.push(d));
    });
    const probeOnce = async (checks: unknown, version: 1 | 2): Promise<string> => {
      const before = got.length;
      const c = new UpstreamChecker('k', compileHealthChecks(checks, version)!, [node(srv.port)], createNodeTcpDataPlane());
      c.probeRound(true);
      await waitFor(() => got.length > before, 10_000, 'the probe');
      await new Promise((r) => setTimeout(r, 50)); // the probe's bytes, if any, and its close
      c.stop();
      return Buffer.concat(got[before]!).toString('hex');
    };
    try {
      assert.equal(await probeOnce({ active: { type: 'tcp', proxy_protocol: true } }, 2), '0d0a0d0a000d0a515549540a20000000');
      assert.equal(Buffer.from(await probeOnce({ active: { type: 'tcp', proxy_protocol: true } }, 1), 'hex').toString(), 'PROXY UNKNOWN\r\n');
      assert.equal(await probeOnce({ active: { type: 'tcp' } }, 2), '');
    } finally {
      await srv.close();
    }
  });
});
