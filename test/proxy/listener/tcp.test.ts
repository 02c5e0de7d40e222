// End-to-end TCP proxy flow on loopback: real upstreams, hand-built store contents, captured access log.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import { createNodeTcpDataPlane } from '../../../src/runtime/tcp/node/plane';
import { buildSnapshot, emptySnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import type { Snapshot } from '../../../src/snapshot/types';
import type { StoredObject } from '../../../src/store/types';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error('condition not reached in time');
    await wait(5);
  }
}

/** Upstream that answers every chunk with "<name>:<chunk>". */
async function namedEcho(name: string): Promise<net.Server> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => s.write(`${name}:${d}`));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}

const portOf = (srv: net.Server | { port: number }): number =>
  'address' in srv ? (srv.address() as net.AddressInfo).port : srv.port;

async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = portOf(srv);
  await new Promise((r) => srv.close(r));
  return port;
}

/** A client that collects what it receives and notes when it was closed. */
function client(port: number) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const state = { s, text: '', ended: false };
  s.on('data', (d: Buffer) => (state.text += d.toString()));
  s.on('error', () => {});
  s.on('close', () => (state.ended = true));
  return state;
}

async function ask(port: number, msg: string): Promise<string> {
  const c = client(port);
  c.s.write(msg);
  await until(() => c.text.length > msg.length || c.ended);
  c.s.end();
  await until(() => c.ended);
  return c.text;
}

let revision = 0;
function snap(routes: Array<[string, Record<string, unknown>]>, prev: Snapshot | null = null, upstreams: StoredObject[] = []): Snapshot {
  revision++;
  const rows = routes.map(([id, value]): StoredObject => {
    const full = { id, ...value };
    return { id, value: full, createdIndex: revision, modifiedIndex: revision, raw: JSON.stringify(full) };
  });
  return buildSnapshot({ revision, streamRoutes: rows, upstreams, ssls: [], unreadable: [] }, prev).snapshot;
}

describe('startTcpProxy', () => {
  let a: net.Server;
  let b: net.Server;
  let proxy: TcpProxy;
  let port: number;
  let current: Snapshot = emptySnapshot();
  const records: AccessRecord[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
  const node = (srv: net.Server, weight = 1) => ({ [`127.0.0.1:${portOf(srv)}`]: weight });

  before(async () => {
    configureErrorLog({ sink: () => {} });
    a = await namedEcho('A');
    b = await namedEcho('B');
    proxy = await startTcpProxy({
      plane: createNodeTcpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, tls: false, origin: 'apisix.stream_proxy.tcp[0]' }],
      snapshot: () => current,
      accessLog,
    });
    port = proxy.listeners[0]!.port;
  });
  after(async () => {
    await proxy.shutdown(0);
    for (const s of [a, b]) await new Promise((r) => s.close(r));
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('forwards to the route upstream and writes one access record', async () => {
    current = snap([['1', { server_port: port, upstream: { nodes: node(a) } }]]);
    records.length = 0;
    assert.equal(await ask(port, 'hello'), 'A:hello');
    await until(() => records.length === 1);
    const r = records[0]!;
    assert.match(r.client, /^127\.0\.0\.1:\d+$/);
    assert.ok(r.duration_ms >= 0 && r.duration_ms < 5000);
    assert.match(r.id, new RegExp(`^${process.pid}-\\d+$`)); // this process's connection counter
    assert.deepEqual(
      { ...r, time: undefined, client: undefined, duration_ms: undefined, id: undefined },
      {
        time: undefined, client: undefined, duration_ms: undefined, id: undefined, protocol: 'tcp', route: '1',
        server: `127.0.0.1:${port}`, upstream: `127.0.0.1:${portOf(a)}`, bytes_from_client: 5, bytes_to_client: 7, end: 'closed',
      },
    );
    assert.equal(proxy.activeConnections(), 0);
  });

  it('closes a connection that matches no route at once, with zero bytes', async () => {
    current = snap([['1', { server_port: port + 1, upstream: { nodes: node(a) } }]]);
    records.length = 0;
    const c = client(port);
    await until(() => c.ended, 10_000);
    assert.equal(c.text, '');
    await until(() => records.length === 1);
    assert.deepEqual([records[0]!.route, records[0]!.upstream, records[0]!.end, records[0]!.bytes_to_client], [null, null, 'no_route', 0]);
  });

  it('closes a route without usable upstream and logs the problem', async () => {
    current = snap([['1', { upstream_id: '7' }]]);
    records.length = 0;
    const c = client(port);
    await until(() => c.ended, 10_000);
    await until(() => records.length === 1);
    assert.deepEqual([records[0]!.route, records[0]!.end, records[0]!.error], ['1', 'no_upstream', 'upstream 7 not found']);
  });

  it('keeps an open connection on its upstream while a new snapshot routes new ones elsewhere', async () => {
    current = snap([['1', { upstream: { nodes: node(a) } }]]);
    const first = client(port);
    first.s.write('1');
    await until(() => first.text === 'A:1');
    current = snap([['1', { upstream: { nodes: node(b) } }]], current);
    assert.equal(await ask(port, '2'), 'B:2');
    first.s.write('3');
    await until(() => first.text === 'A:1A:3');
    first.s.end();
    await until(() => first.ended);
  });

  it('retries past a refused node; the client never notices', async () => {
    const dead = await deadPort();
    current = snap([['1', {
      upstream: { nodes: [{ host: '127.0.0.1', port: dead, weight: 1, priority: 1 }, { host: '127.0.0.1', port: portOf(b), weight: 1 }] },
    }]]);
    records.length = 0;
    assert.equal(await ask(port, 'x'), 'B:x');
    await until(() => records.length === 1);
    assert.deepEqual([records[0]!.upstream, records[0]!.end], [`127.0.0.1:${portOf(b)}`, 'closed']);
  });

  it('reports connect_failed when every node refuses', async () => {
    const dead = await deadPort();
    current = snap([['1', { upstream: { nodes: { [`127.0.0.1:${dead}`]: 1 } } }]]);
    records.length = 0;
    const c = client(port);
    await until(() => c.ended, 10_000);
    await until(() => records.length === 1);
    assert.deepEqual([records[0]!.end, records[0]!.upstream], ['connect_failed', `127.0.0.1:${dead}`]);
    assert.equal(records[0]!.error, `connect to 127.0.0.1:${dead} failed after 1 attempt: ECONNREFUSED`);
  });

  it('spreads connections 3:1 over weighted nodes (a a b a | a a b a)', async () => {
    current = snap([['1', { upstream: { nodes: { ...node(a, 3), ...node(b, 1) } } }]]);
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push((await ask(port, '.'))[0]!);
    assert.deepEqual(seen, ['A', 'A', 'B', 'A', 'A', 'A', 'B', 'A']);
  });
});

describe('startTcpProxy: listen failure and shutdown', () => {
  const servers: net.Server[] = [];
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('closes the listeners already bound and names the failing address and its origin', async () => {
    const busy = await namedEcho('busy');
    servers.push(busy);
    const first = await deadPort();
    await assert.rejects(
      startTcpProxy({
        plane: createNodeTcpDataPlane(),
        listeners: [
          { host: '127.0.0.1', port: first, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
          { host: '127.0.0.1', port: portOf(busy), tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
        ],
        snapshot: emptySnapshot,
        accessLog: new AccessLog({ sink: () => {} }),
      }),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.message, `cannot listen on 127.0.0.1:${portOf(busy)} (apisix.stream_proxy.tcp[1]): address already in use`);
        assert.equal(err.code, 'EADDRINUSE');
        return true;
      },
    );
    const again = net.createServer(); // the first listener was released: its port binds again
    await new Promise<void>((resolve, reject) => again.once('error', reject).listen(first, '127.0.0.1', resolve));
    await new Promise((r) => again.close(r));
  });

  it('shutdown lets a connection finish within the grace period and aborts the one still open', async () => {
    const up = await namedEcho('U');
    servers.push(up);
    const records: AccessRecord[] = [];
    const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
    const snapshot = snap([['1', { upstream: { nodes: { [`127.0.0.1:${portOf(up)}`]: 1 } } }]]);
    const proxy = await startTcpProxy({
      plane: createNodeTcpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, tls: false, origin: 'apisix.stream_proxy.tcp[0]' }],
      snapshot: () => snapshot,
      accessLog,
    });
    const port = proxy.listeners[0]!.port;
    const polite = client(port);
    const stubborn = client(port);
    polite.s.write('p');
    stubborn.s.write('s');
    await until(() => polite.text === 'U:p' && stubborn.text === 'U:s');
    assert.equal(proxy.activeConnections(), 2);
    const start = Date.now();
    const done = proxy.shutdown(300);
    await wait(50);
    const late = client(port); // not accepted any more
    await until(() => late.ended);
    polite.s.write('q'); // still served during the grace period
    await until(() => polite.text === 'U:pU:q');
    polite.s.end();
    await done;
    const took = Date.now() - start;
    assert.ok(took >= 290 && took < 2000, `shutdown took ${took} ms`);
    await until(() => stubborn.ended);
    assert.equal(proxy.activeConnections(), 0);
    await until(() => records.length === 2);
    assert.deepEqual(records.map((r) => [r.end, r.bytes_from_client]).sort(), [['aborted', 1], ['closed', 2]]);
  });
});
