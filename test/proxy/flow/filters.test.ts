// The filters phase on real sockets: a route's chain runs after match and before connect, on TCP and on UDP;
// a rejection closes before any upstream is dialled and is recorded; the log phase sees the finished connection.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import { startUdpProxy, type UdpProxy } from '../../../src/proxy/listener/udp';
import { createNodeTcpDataPlane } from '../../../src/runtime/tcp/node/plane';
import { createNodeUdpDataPlane } from '../../../src/runtime/udp/node';
import { buildSnapshot } from '../../../src/snapshot/build';
import { schemaDeps } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import { buildChain } from '../../../src/proxy/filter/chain';
import type { FilterChain, FinishedConn, StreamFilter } from '../../../src/proxy/filter/types';
import type { Snapshot } from '../../../src/snapshot/types';
import type { JsonObject } from '../../../src/lib/json';
import { PluginSet } from '../../../src/plugins/registry';
import { validateStreamRoute } from '../../../src/schema/index';
import { exchange, startEchoServer, type TestServer } from '../../helpers/net';
import { startUdpEcho, udpClient, until, wait, type UdpEcho } from '../../helpers/udp';

/**
 * Test filters standing in for plugins, under their own names (the build is told to let names it does not
 * know through): "deny" refuses, "slow" admits after 30 ms, "held" admits when the test calls releaseHeld(),
 * "log" collects.
 */
const logged: FinishedConn[] = [];
/** The "held" filter's pending verdicts. */
const heldVerdicts: Array<() => void> = [];
/** Admits every connection the "held" filter is holding. */
function releaseHeld(): void {
  for (const admit of heldVerdicts.splice(0)) admit();
}
const KINDS: Record<string, StreamFilter> = {
  deny: { name: 'deny', priority: 2, access: (c) => ({ code: 403, reason: `client ${c.info.remoteAddr} refused` }) },
  slow: { name: 'slow', priority: 3, access: () => new Promise((r) => setTimeout(() => r(undefined), 30)) },
  held: { name: 'held', priority: 3, access: () => new Promise((r) => void heldVerdicts.push(() => r(undefined))) },
  log: { name: 'log', priority: 1, log: (done) => void logged.push(done) },
  // what mqtt-proxy does: peek at the client's first bytes, keep them as a variable, let them through
  peek: {
    name: 'peek',
    priority: 4,
    access: (c) =>
      new Promise((resolve) => {
        if (c.preread === undefined) return resolve({ code: 400, reason: 'nothing to preread' });
        c.preread(64, (bytes, state) => {
          if (state === 'data' && bytes.length < 5) return false;
          c.setVar('first_bytes', Buffer.from(bytes).toString());
          resolve(undefined);
          return true;
        });
      }),
    log: (done) => void logged.push(done),
  },
};
function compileFilters(route: JsonObject): FilterChain {
  return buildChain(Object.keys((route.plugins ?? {}) as JsonObject).map((name) => KINDS[name]!));
}
const NO_PLUGINS = new PluginSet([]);
const deps = { ...schemaDeps, validateStreamRoute: (b: unknown) => validateStreamRoute(b, { plugins: NO_PLUGINS, skipUnknown: true }), compileFilters };

/** An access log whose records land in `records`. */
function capturedLog(records: AccessRecord[]): AccessLog {
  return new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
}

/** A route on `port` to one node, with test filters standing in for the named plugins. */
function routeTo(port: number, node: string, filters: string[]): JsonObject {
  return { server_port: port, plugins: Object.fromEntries(filters.map((f) => [f, {}])), upstream: { nodes: { [node]: 1 } } };
}

function snapshotOf(routes: Array<[string, JsonObject]>): Snapshot {
  const rows = routes.map(([id, value]) => {
    const full = { id, ...value };
    return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
  });
  return buildSnapshot({ revision: 1, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, null, deps).snapshot;
}

describe('filters phase, TCP', () => {
  let upstream: TestServer;
  let proxy: TcpProxy;
  let port: number;
  let current: Snapshot;
  const records: AccessRecord[] = [];
  const accessLog = capturedLog(records);

  before(async () => {
    configureErrorLog({ sink: () => {} });
    upstream = await startEchoServer('up:');
    proxy = await startTcpProxy({ plane: createNodeTcpDataPlane(), listeners: [{ host: '127.0.0.1', port: 0, tls: false, origin: 't' }], snapshot: () => current, accessLog });
    port = proxy.listeners[0]!.port;
  });
  after(async () => {
    await proxy.shutdown(0);
    await upstream.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  const route = (filters: string[]) => routeTo(port, `127.0.0.1:${upstream.port}`, filters);

  it('a rejecting filter closes the connection before any upstream connect, and the record says why', async () => {
    current = snapshotOf([['r', route(['deny', 'log'])]]);
    records.length = logged.length = 0;
    const before = upstream.accepted;
    const { data } = await exchange(port, 'hello');
    assert.equal(data.length, 0);
    await until(() => records.length === 1);
    assert.equal(upstream.accepted, before); // never dialled
    assert.equal(records[0]!.end, 'rejected');
    assert.equal(records[0]!.route, 'r');
    assert.equal(records[0]!.upstream, null);
    assert.equal(records[0]!.error, '403 client 127.0.0.1 refused');
    assert.deepEqual(logged.map((l) => [l.end, l.route.id, l.node]), [['rejected', 'r', null]]);
    assert.equal(proxy.activeConnections(), 0);
  });

  it('an asynchronous filter that admits lets the connection through, and the log phase sees its bytes', async () => {
    current = snapshotOf([['r', route(['slow', 'log'])]]);
    records.length = logged.length = 0;
    const { data } = await exchange(port, 'hello');
    assert.equal(data.toString(), 'up:hello');
    await until(() => records.length === 1 && logged.length === 1);
    assert.equal(records[0]!.end, 'closed');
    const l = logged[0]!;
    assert.deepEqual([l.end, l.bytesFromClient, l.bytesToClient, l.node?.port], ['closed', 5, 8, upstream.port]);
  });

  it('a filter may preread the client: it sees the first bytes, sets a variable, and the upstream still gets them', async () => {
    current = snapshotOf([['r', route(['peek'])]]);
    records.length = logged.length = 0;
    const { data } = await exchange(port, 'hello weir');
    assert.equal(data.toString(), 'up:hello weir');
    await until(() => logged.length === 1);
    assert.equal(logged[0]!.conn.getVar('first_bytes')?.startsWith('hello'), true);
    assert.equal(logged[0]!.error, undefined);
  });

  it('the log phase gets the record\'s error text', async () => {
    current = snapshotOf([['r', route(['deny', 'log'])]]);
    logged.length = 0;
    await exchange(port, 'x');
    await until(() => logged.length === 1);
    assert.equal(logged[0]!.error, '403 client 127.0.0.1 refused');
  });

  it('filters run in priority order: the slow one first, then the refusal', async () => {
    current = snapshotOf([['r', route(['deny', 'slow'])]]);
    records.length = 0;
    const t0 = Date.now();
    await exchange(port, 'x');
    await until(() => records.length === 1);
    assert.equal(records[0]!.end, 'rejected');
    assert.ok(Date.now() - t0 >= 25, 'the 30 ms filter ran before the refusal');
  });

  it('shutdown during a slow filter writes one aborted record and dials nothing', async () => {
    const own = await startTcpProxy({ plane: createNodeTcpDataPlane(), listeners: [{ host: '127.0.0.1', port: 0, tls: false, origin: 't' }], snapshot: () => current, accessLog });
    const ownPort = own.listeners[0]!.port;
    // held until the shutdown is over (a 30 ms filter could admit first on a busy machine, and then it dials)
    current = snapshotOf([['r', { ...route(['held']), server_port: ownPort }]]);
    records.length = 0;
    const before = upstream.accepted;
    const pending = exchange(ownPort, 'x');
    await until(() => own.activeConnections() === 1 && heldVerdicts.length === 1);
    await own.shutdown(0);
    await pending;
    releaseHeld(); // the filter's verdict comes after the shutdown
    await wait(60);
    // only this proxy's records: an earlier test's line may still be on its way through the log's batching
    assert.deepEqual(records.filter((r) => r.server.endsWith(`:${ownPort}`)).map((r) => r.end), ['aborted']);
    assert.equal(upstream.accepted, before);
  });
});

describe('filters phase, UDP', () => {
  let echo: UdpEcho;
  let proxy: UdpProxy;
  let port: number;
  let current: Snapshot;
  const records: AccessRecord[] = [];
  const accessLog = capturedLog(records);

  before(async () => {
    configureErrorLog({ sink: () => {} });
    echo = await startUdpEcho('up:');
    proxy = await startUdpProxy({
      plane: createNodeUdpDataPlane(), listeners: [{ host: '127.0.0.1', port: 0, origin: 't' }], snapshot: () => current, accessLog,
      maxSessions: 10, responses: 1, tickMs: 20,
    });
    port = proxy.listeners[0]!.port;
  });
  after(async () => {
    await proxy.shutdown(0);
    await echo.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  const route = (filters: string[]) => routeTo(port, `127.0.0.1:${echo.port}`, filters);

  it('a refused datagram opens no session, reaches no node, and is recorded once', async () => {
    current = snapshotOf([['u', route(['deny', 'log'])]]);
    records.length = logged.length = 0;
    const c = await udpClient();
    c.send('q1', port);
    await until(() => records.length === 1);
    await wait(50);
    assert.equal(echo.received.length, 0);
    assert.equal(c.replies.length, 0);
    assert.equal(proxy.activeSessions(), 0);
    assert.deepEqual([records[0]!.protocol, records[0]!.end, records[0]!.error], ['udp', 'rejected', '403 client 127.0.0.1 refused']);
    assert.equal(logged.length, 1);
    await c.close();
  });

  it('a datagram session has nothing to preread: it has no preread()', async () => {
    current = snapshotOf([['u', route(['peek'])]]);
    records.length = 0;
    const c = await udpClient();
    c.send('q3', port);
    await until(() => records.length === 1);
    assert.deepEqual([records[0]!.end, records[0]!.error], ['rejected', '400 nothing to preread']);
    await c.close();
  });

  it('an admitted session relays and its log phase runs when it ends', async () => {
    current = snapshotOf([['u', route(['log'])]]);
    records.length = logged.length = 0;
    const c = await udpClient();
    c.send('q2', port);
    assert.deepEqual(await c.waitReplies(1), ['up:q2']);
    await until(() => records.length === 1 && logged.length === 1);
    assert.deepEqual([records[0]!.end, logged[0]!.end, logged[0]!.bytesFromClient, logged[0]!.bytesToClient], ['responses', 'responses', 2, 5]);
    await c.close();
  });
});
