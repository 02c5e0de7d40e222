// Dial and the upstream engine: passive health reports, unhealthy nodes skipped (and used when all are
// unhealthy), least_conn released on a failed attempt, ewma fed with every attempt.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialUpstream, releaseNode, type DialFailure, type DialSuccess } from '../../../src/proxy/connect/dial';
import { createBalancer } from '../../../src/proxy/balance/index';
import { UpstreamChecker } from '../../../src/health/checker';
import { compileHealthChecks } from '../../../src/health/config';
import { configureErrorLog } from '../../../src/log/logger';
import type { ConnectErrorKind, TcpDataPlane } from '../../../src/runtime/types';
import type { CompiledUpstream, ConnInfo, UpstreamNode } from '../../../src/snapshot/types';
import type { HealthView } from '../../../src/health/types';

const conn: ConnInfo = { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 2, sni: null };
const node = (port: number): UpstreamNode => ({ host: '127.0.0.1', port, weight: 1, priority: 0, address: `127.0.0.1:${port}` });

/** Scripted connects (port -> outcome), answered on a microtask; attempts recorded. Only connect/destroy are used by dial. */
function plane(outcomes: Record<number, ConnectErrorKind | 'ok'>) {
  const attempts: number[] = [];
  const p = {
    connect(host: string, port: number, _t: number, done: Parameters<TcpDataPlane['connect']>[3]) {
      attempts.push(port);
      const o = outcomes[port] ?? 'refused';
      queueMicrotask(() => (o === 'ok' ? done(null, { remoteAddress: host, remotePort: port }) : done({ kind: o, code: o, message: o }, null)));
    },
    destroy() {},
  } as unknown as TcpDataPlane;
  return { plane: p, attempts };
}

function upstream(type: string, nodes: UpstreamNode[], withChecks = true, now?: () => number): CompiledUpstream {
  const checks = withChecks ? compileHealthChecks({ active: { type: 'tcp' }, passive: { unhealthy: { tcp_failures: 1, timeouts: 2 } } }) : null;
  const up = {
    key: '/apisix/upstreams/1', nodes, balancer: createBalancer(type, nodes, { now }), retries: nodes.length - 1,
    retryTimeoutMs: 0, connectTimeoutMs: 1000, idleTimeoutMs: 600_000, scheme: 'tcp', tls: null, checks,
  } as CompiledUpstream;
  if (checks !== null) checkers.set(up, new UpstreamChecker('/apisix/upstreams/1', checks, nodes, { connect() {}, destroy() {}, exchange() {} }));
  return up;
}

/** Health beside the upstreams, as the registry keeps it. */
const checkers = new WeakMap<CompiledUpstream, UpstreamChecker>();
const health: HealthView = { checkerOf: (up) => checkers.get(up) ?? null };
const checkerOf = (up: CompiledUpstream): UpstreamChecker => checkers.get(up)!;

function dial(p: TcpDataPlane, up: CompiledUpstream, now?: () => number) {
  return new Promise<{ err: DialFailure | null; ok: DialSuccess | null }>((resolve) => dialUpstream(p, up, conn, (err, ok) => resolve({ err, ok }), now, health));
}

configureErrorLog({ sink: () => {} });
after(() => configureErrorLog({ sink: (t) => process.stderr.write(t) }));

describe('dial with health and balancer feedback', () => {
  it('a refused node is reported to passive health and skipped by the next connections', async () => {
    const { plane: p, attempts } = plane({ 2: 'ok' });
    const up = upstream('roundrobin', [node(1), node(2)]);
    const first = await dial(p, up);
    assert.equal(first.ok!.node.port, 2); // retried: the client never saw the refusal
    assert.equal(checkerOf(up).isUnhealthy(node(1)), true);
    for (let i = 0; i < 4; i++) assert.equal((await dial(p, up)).ok!.node.port, 2);
    assert.deepEqual(attempts, [1, 2, 2, 2, 2, 2]); // node 1 never tried again
  });

  it('a timed-out connect counts as a timeout', async () => {
    const { plane: p } = plane({ 1: 'timeout', 2: 'ok' });
    const up = upstream('roundrobin', [node(1), node(2)]);
    await dial(p, up);
    const n1 = checkerOf(up).info().nodes[0]!;
    assert.deepEqual([n1.status, n1.counter], ['mostly_healthy', { success: 0, tcp_failure: 0, timeout_failure: 1, http_failure: 0 }]);
    assert.equal(checkerOf(up).info().nodes[1]!.status, 'healthy');
  });

  it('all nodes unhealthy: they are still tried, and one that answers serves', async () => {
    const { plane: p, attempts } = plane({ 2: 'ok' });
    const up = upstream('roundrobin', [node(1), node(2)]);
    checkerOf(up).reportConnect(node(1), 'tcp_failure');
    checkerOf(up).reportConnect(node(2), 'tcp_failure');
    assert.equal(checkerOf(up).unhealthyCount, 2);
    const r = await dial(p, up);
    assert.equal(r.ok!.node.port, 2);
    assert.equal(attempts.length, r.ok!.attempts);
  });

  it('least_conn: a failed attempt releases its count, the connected node keeps one until releaseNode', async () => {
    const { plane: p } = plane({ 2: 'ok' });
    const up = upstream('least_conn', [node(1), node(2)], false);
    const r = await dial(p, up);
    assert.equal(r.ok!.attempts, 2);
    assert.equal(up.balancer.states.get('127.0.0.1:1')!.active, 0);
    assert.equal(up.balancer.states.get('127.0.0.1:2')!.active, 1);
    releaseNode(up, r.ok!.node);
    assert.equal(up.balancer.states.get('127.0.0.1:2')!.active, 0);
  });

  it('ewma: every attempt is a latency sample; a failure is a slow one', async () => {
    let clock = 1000;
    const { plane: p } = plane({ 2: 'ok' });
    const now = () => (clock += 5); // every clock read advances 5 ms
    const up = upstream('ewma', [node(1), node(2)], false, now);
    await dial(p, up, now);
    assert.equal(up.balancer.states.get('127.0.0.1:1')!.ewma, 1000); // the failure floor
    assert.ok(up.balancer.states.get('127.0.0.1:2')!.ewma > 0 && up.balancer.states.get('127.0.0.1:2')!.ewma < 100);
  });
});
