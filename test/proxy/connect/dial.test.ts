// Dial with retries: exact attempt sequences through a fake plane, and a real refusing port.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { dialUpstream, type DialFailure, type DialSuccess } from '../../../src/proxy/connect/dial';
import { createRoundRobin } from '../../../src/proxy/balance/roundrobin';
import { createNodeTcpDataPlane } from '../../../src/runtime/tcp/node/plane';
import { configureErrorLog } from '../../../src/log/logger';
import type { ConnectError, ConnectErrorKind, OutboundConn, TcpDataPlane } from '../../../src/runtime/types';
import type { CompiledUpstream, ConnInfo, UpstreamNode } from '../../../src/snapshot/types';

const conn: ConnInfo = { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 2, sni: null };

function node(port: number, weight = 1, priority = 0): UpstreamNode {
  return { host: '127.0.0.1', port, weight, priority, address: `127.0.0.1:${port}` };
}

function upstream(nodes: UpstreamNode[], over: Partial<CompiledUpstream> = {}): CompiledUpstream {
  return {
    key: '/apisix/upstreams/1', nodes, balancer: createRoundRobin(nodes), retries: nodes.length - 1,
    retryTimeoutMs: 0, connectTimeoutMs: 6000, idleTimeoutMs: 600_000, scheme: 'tcp', ...over,
  };
}

/** In-memory plane: each port answers with a scripted outcome; attempts are recorded. */
function fakePlane(outcomes: Record<number, ConnectErrorKind | 'ok'>, onConnect?: () => void) {
  const attempts: Array<{ port: number; timeoutMs: number }> = [];
  const plane: TcpDataPlane = {
    listen: () => Promise.reject(new Error('not in this fake')),
    pipe: () => {},
    destroy: () => {},
    preread: () => {},
    consume: () => {},
    exchange: () => {},
    pipeCounts: () => false,
    startTls: () => {},
    tlsSession: () => null,
    connect(host, port, timeoutMs, done) {
      attempts.push({ port, timeoutMs });
      onConnect?.();
      const outcome = outcomes[port] ?? 'refused';
      queueMicrotask(() => {
        if (outcome === 'ok') return done(null, { remoteAddress: host, remotePort: port });
        const code = outcome === 'refused' ? 'ECONNREFUSED' : outcome === 'timeout' ? 'ETIMEDOUT' : 'EHOSTUNREACH';
        const err: ConnectError = { kind: outcome, code, message: `${code} ${host}:${port}` };
        done(err, null);
      });
    },
  };
  return { plane, attempts };
}

function dial(plane: TcpDataPlane, up: CompiledUpstream, now?: () => number) {
  return new Promise<{ err: DialFailure | null; ok: DialSuccess | null; calls: number }>((resolve) => {
    let calls = 0;
    dialUpstream(plane, up, conn, (err, ok) => {
      calls++;
      setTimeout(() => resolve({ err, ok, calls }), 20); // a second call would show up in `calls`
    }, now);
  });
}

const logLines: string[] = [];
configureErrorLog({ sink: (text) => logLines.push(text) });
after(() => configureErrorLog({ sink: (text) => process.stderr.write(text) }));

describe('dialUpstream (fake plane)', () => {
  it('connects on the first node and passes the connect timeout', async () => {
    const { plane, attempts } = fakePlane({ 1: 'ok' });
    const r = await dial(plane, upstream([node(1)], { connectTimeoutMs: 1500 }));
    assert.deepEqual(attempts, [{ port: 1, timeoutMs: 1500 }]);
    assert.equal(r.err, null);
    assert.equal(r.ok!.node.port, 1);
    assert.equal(r.ok!.attempts, 1);
    assert.deepEqual(r.ok!.conn as OutboundConn, { remoteAddress: '127.0.0.1', remotePort: 1 });
    assert.equal(r.calls, 1);
  });

  it('skips failed nodes and logs each failure', async () => {
    logLines.length = 0;
    const { plane, attempts } = fakePlane({ 1: 'refused', 2: 'timeout', 3: 'ok' });
    const r = await dial(plane, upstream([node(1), node(2), node(3)]));
    assert.deepEqual(attempts.map((a) => a.port), [1, 2, 3]);
    assert.equal(r.ok!.node.port, 3);
    assert.equal(r.ok!.attempts, 3);
    assert.equal(logLines.length, 2);
    assert.match(logLines[0]!, / warn connect\(\) failed upstream=\/apisix\/upstreams\/1 node=127\.0\.0\.1:1 error=ECONNREFUSED\n$/);
    assert.match(logLines[1]!, /node=127\.0\.0\.1:2 error=ETIMEDOUT/);
  });

  it('retries unset (= nodes - 1): tries every node once, then fails with the last error', async () => {
    const { plane, attempts } = fakePlane({});
    const r = await dial(plane, upstream([node(1), node(2), node(3)]));
    assert.deepEqual(attempts.map((a) => a.port), [1, 2, 3]);
    assert.equal(r.ok, null);
    assert.equal(r.err!.code, 'ERR_UPSTREAM_CONNECT');
    assert.equal(r.err!.attempts, 3);
    assert.equal(r.err!.last!.kind, 'refused');
    assert.equal(r.err!.message, 'connect to 127.0.0.1:3 failed after 3 attempts: ECONNREFUSED');
    assert.equal(r.calls, 1);
  });

  it('retries: 0 makes a single attempt', async () => {
    const { plane, attempts } = fakePlane({ 2: 'ok' });
    const r = await dial(plane, upstream([node(1), node(2)], { retries: 0 }));
    assert.deepEqual(attempts.map((a) => a.port), [1]);
    assert.equal(r.err!.message, 'connect to 127.0.0.1:1 failed after 1 attempt: ECONNREFUSED');
  });

  it('retries: 1 of 3 nodes stops after two attempts', async () => {
    const { plane, attempts } = fakePlane({ 3: 'ok' });
    const r = await dial(plane, upstream([node(1), node(2), node(3)], { retries: 1 }));
    assert.deepEqual(attempts.map((a) => a.port), [1, 2]);
    assert.equal(r.err!.attempts, 2);
  });

  it('more retries than nodes: stops when no untried node is left', async () => {
    const { plane, attempts } = fakePlane({});
    const r = await dial(plane, upstream([node(1), node(2)], { retries: 5 }));
    assert.deepEqual(attempts.map((a) => a.port), [1, 2]);
    assert.equal(r.err!.code, 'ERR_UPSTREAM_CONNECT');
  });

  it('retry_timeout: no new attempt once the deadline from the first pick has passed', async () => {
    let clock = 0;
    const { plane, attempts } = fakePlane({ 4: 'ok' }, () => (clock += 1000)); // each attempt "takes" 1 s
    const r = await dial(plane, upstream([node(1), node(2), node(3), node(4)], { retryTimeoutMs: 1500 }), () => clock);
    assert.deepEqual(attempts.map((a) => a.port), [1, 2]);
    assert.equal(r.err!.attempts, 2);
  });

  it('a timeout error kind is reported as such', async () => {
    const { plane } = fakePlane({ 1: 'timeout' });
    const r = await dial(plane, upstream([node(1)]));
    assert.equal(r.err!.last!.kind, 'timeout');
    assert.equal(r.err!.last!.code, 'ETIMEDOUT');
  });

  it('walks priority groups in order: 1, then 0, then -1', async () => {
    const { plane, attempts } = fakePlane({ 30: 'ok' });
    const nodes = [node(20, 1, 0), node(10, 1, 1), node(30, 1, -1), node(11, 1, 1)];
    const r = await dial(plane, upstream(nodes));
    assert.deepEqual(attempts.map((a) => a.port), [10, 11, 20, 30]);
    assert.equal(r.ok!.node.port, 30);
  });

  it('no eligible node: ERR_NO_UPSTREAM_NODE without any attempt', async () => {
    const { plane, attempts } = fakePlane({});
    const r = await dial(plane, upstream([node(1, 0)]));
    assert.equal(attempts.length, 0);
    assert.deepEqual([r.err!.code, r.err!.message, r.err!.attempts], ['ERR_NO_UPSTREAM_NODE', 'no valid upstream node', 0]);
  });
});

describe('dialUpstream (node plane, real sockets)', () => {
  const servers: net.Server[] = [];
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('skips a refusing port and connects to the live one', async () => {
    const live = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    servers.push(live);
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const livePort = (live.address() as net.AddressInfo).port;
    const plane = createNodeTcpDataPlane();
    const r = await dial(plane, upstream([node(deadPort, 1, 1), node(livePort, 1, 0)], { connectTimeoutMs: 2000 }));
    assert.equal(r.err, null);
    assert.equal(r.ok!.node.port, livePort);
    assert.equal(r.ok!.attempts, 2);
    assert.equal(r.ok!.conn.remotePort, livePort);
    plane.destroy(r.ok!.conn);
  });
});
