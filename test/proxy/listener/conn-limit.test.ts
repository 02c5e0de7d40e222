// max_connections at accept: the host cap and a listener's own cap refuse at once (closed unread, end reason
// `refused`, counted per reason), and a freed slot is usable again. Real sockets on loopback.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import { createNodeTcpDataPlane } from '../../../src/runtime/tcp/node/plane';
import { buildSnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord } from '../../../src/log/logger';
import type { Snapshot } from '../../../src/snapshot/types';
import { ConnectionLimiter } from '../../../src/proxy/listener/conn-limit';
import { RateLimitedWarn } from '../../../src/log/rate-limit';
import { startEchoServer, type TestServer } from '../../helpers/net';
import { until } from '../../helpers/udp';

function snapFor(upstreamPort: number): Snapshot {
  const value = { id: '1', upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${upstreamPort}`]: 1 } } };
  const row = { id: '1', value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) };
  return buildSnapshot({ revision: 1, streamRoutes: [row], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
}

/** A client that notes its first bytes and when it was closed. */
function open(port: number) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const state = { s, text: '', closed: false, closedAt: 0 };
  s.on('data', (d: Buffer) => (state.text += d.toString()));
  s.on('error', () => {});
  s.on('close', () => {
    state.closed = true;
    state.closedAt = Date.now();
  });
  return state;
}

describe('ConnectionLimiter', () => {
  it('refuses over the host cap and over a listener cap, and counts each reason', () => {
    let openNow = 0;
    const lines: Array<Record<string, unknown>> = [];
    const warn = new RateLimitedWarn({ periodMs: 1000, emit: (_m, f) => lines.push(f), now: () => 0, flushTimer: false });
    const limiter = new ConnectionLimiter(2, () => openNow, warn);
    const listener = { max: 1, open: 0, origin: 'apisix.stream_proxy.tcp[0]' };
    assert.equal(limiter.admit(listener), null);
    openNow = 1;
    assert.equal(limiter.admit(listener), 'listener_max_connections');
    assert.equal(limiter.admit(null), null);
    openNow = 2;
    assert.equal(limiter.admit(null), 'max_connections');
    assert.equal(limiter.admit(null), 'max_connections');
    assert.deepEqual(limiter.refused(), { max_connections: 2, listener_max_connections: 1 });
    // one line per reason per second; the second max_connections refusal is only counted
    assert.deepEqual(lines, [
      { cap: 1, setting: 'apisix.stream_proxy.tcp[0].max_connections' },
      { cap: 2, setting: 'apisix.stream_proxy.max_connections' },
    ]);
  });
});

describe('max_connections on a live proxy', () => {
  let echo: TestServer;
  let proxy: TcpProxy;
  const records: AccessRecord[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
  let capped: number;
  let plain: number;

  before(async () => {
    echo = await startEchoServer();
    const snapshot = snapFor(echo.port);
    proxy = await startTcpProxy({
      plane: createNodeTcpDataPlane(),
      listeners: [
        { host: '127.0.0.1', port: 0, tls: false, origin: 'apisix.stream_proxy.tcp[0]', maxConnections: 2 },
        { host: '127.0.0.1', port: 0, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
      ],
      snapshot: () => snapshot,
      accessLog,
      maxConnections: 4,
    });
    capped = proxy.listeners[0]!.port;
    plain = proxy.listeners[1]!.port;
  });
  after(async () => {
    await proxy.shutdown(0);
    await echo.close();
  });

  it('closes the connection over a listener cap at once, unread, and frees the slot when one ends', async () => {
    const a = open(capped);
    const b = open(capped);
    a.s.write('a');
    b.s.write('b');
    await until(() => a.text.length > 0 && b.text.length > 0);
    const t0 = Date.now();
    const c = open(capped);
    await until(() => c.closed, 10_000, 'refused connection closed');
    assert.ok(c.closedAt - t0 < 500, `refused after ${c.closedAt - t0} ms`);
    assert.equal(c.text, '');
    assert.equal(proxy.limiter.refused().listener_max_connections, 1);
    const refused = records.filter((r) => r.end === 'refused');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.error, 'listener_max_connections 2 reached');
    a.s.end();
    await until(() => a.closed);
    await until(() => records.filter((r) => r.end === 'closed').length === 1);
    const d = open(capped);
    d.s.write('d');
    await until(() => d.text.length > 0 || d.closed);
    assert.equal(d.closed, false);
    // the host cap (4) counts both listeners: 2 open on `capped`, so 2 more on `plain`, then refusal
    const e = open(plain);
    const f = open(plain);
    e.s.write('e');
    f.s.write('f');
    await until(() => e.text.length > 0 && f.text.length > 0);
    const g = open(plain);
    await until(() => g.closed, 10_000, 'host-cap refusal');
    assert.equal(proxy.limiter.refused().max_connections, 1);
    for (const x of [b, d, e, f]) x.s.end();
    await until(() => proxy.activeConnections() === 0);
  });
});
