// [weir] on_change / on_node_removed end to end, weir in this process on loopback: keep leaves open connections
// alone, drain closes them after drain_timeout, close at once; a close cuts exactly the sessions of the route it
// names (route_changed, route_deleted), on_node_removed only those on the dropped node (also of an upstream only
// traffic-split sends to), and UDP sessions too; a cut runs the route's plugins' log phase (limit-conn's count
// comes back) and is counted in the metrics.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { freePort, startServer, connect, readUntil, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { startUdpEcho, udpClient, type UdpEcho } from '../helpers/udp';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';

/** Echo server that first says which one it is ("A" / "B"), so a test knows which node a connection is on. */
const tagged = (tag: string): Promise<TestServer> =>
  startServer((s) => {
    s.write(tag);
    s.pipe(s);
  });

interface Open {
  sock: net.Socket;
  tag: string;
  /** Resolves when weir closes it (FIN or reset). */
  closed: Promise<void>;
  isClosed(): boolean;
}

async function open(port: number): Promise<Open> {
  const sock = await connect(port);
  let done = false;
  sock.on('error', () => {});
  const closed = new Promise<void>((resolve) => {
    const end = (): void => {
      done = true;
      resolve();
    };
    sock.once('end', end);
    sock.once('close', end);
  });
  const tag = (await readUntil(sock, (d) => d.length >= 1)).toString();
  return { sock, tag, closed, isClosed: () => done };
}

/** The connection still carries bytes both ways. */
async function alive(c: Open): Promise<boolean> {
  if (c.isClosed()) return false;
  c.sock.write('?');
  try {
    await readUntil(c.sock, (d) => d.includes('?'), 1000);
    return true;
  } catch {
    return false;
  }
}

describe('session policies on real sockets', () => {
  let w: TestWeir;
  let a: TestServer, b: TestServer;
  const ports: Record<string, number> = {};
  const conns: Open[] = [];

  before(async () => {
    [a, b] = [await tagged('A'), await tagged('B')];
    for (const name of ['keep', 'close', 'drain', 'nodes', 'gone', 'split']) ports[name] = await freePort();
    w = await startTestWeir(Object.values(ports).map((p) => `"127.0.0.1:${p}"`));
  });
  after(async () => {
    for (const c of conns) c.sock.destroy();
    await w.stop();
    await a.close();
    await b.close();
  });

  const up = (...servers: TestServer[]) => ({ nodes: Object.fromEntries(servers.map((s) => [`127.0.0.1:${s.port}`, 1])) });
  const track = async (port: number, n: number): Promise<Open[]> => {
    const list: Open[] = [];
    for (let i = 0; i < n; i++) list.push(await open(port));
    conns.push(...list);
    return list;
  };
  const ended = (route: string, end: string) => w.access.filter((r) => r.route === route && r.end === end);

  it('a change cuts exactly the sessions of the route whose on_change is close; keep and drain wait', async () => {
    const put = (id: string, extra: Record<string, unknown>) => w.admin('PUT', `/apisix/admin/stream_routes/${id}`, { server_port: ports[id], upstream: up(a), ...extra });
    assert.equal((await put('keep', {})).status, 201);
    assert.equal((await put('close', { on_change: { action: 'close' } })).status, 201);
    assert.equal((await put('drain', { on_change: { action: 'drain', drain_timeout: 0.4 } })).status, 201);
    const keep = await track(ports.keep!, 2);
    const close = await track(ports.close!, 3);
    const drain = await track(ports.drain!, 2);
    const changedAt = Date.now();
    for (const id of ['keep', 'close', 'drain']) assert.equal((await w.admin('PATCH', `/apisix/admin/stream_routes/${id}`, { desc: 'changed' })).status, 200);
    await Promise.all(close.map((c) => c.closed));
    assert.ok(Date.now() - changedAt < 400, 'close: at once');
    assert.deepEqual(await Promise.all(drain.map(alive)), [true, true], 'drain: open until the timeout');
    await Promise.all(drain.map((c) => c.closed));
    const drained = Date.now() - changedAt;
    assert.ok(drained >= 380 && drained < 2000, `drain: closed after ${drained} ms`);
    assert.deepEqual(await Promise.all(keep.map(alive)), [true, true], 'keep: untouched');
    await waitFor(() => ended('close', 'route_changed').length === 3 && ended('drain', 'route_changed').length === 2, 2000, 'the access records');
    assert.deepEqual(ended('close', 'route_changed').map((r) => r.error), Array(3).fill('route close changed (on_change: close)'));
    assert.deepEqual(ended('drain', 'route_changed').map((r) => r.error), Array(2).fill('route drain changed (on_change: drain 0.4 s)'));
    assert.equal(w.access.filter((r) => r.route === 'keep').length, 0, 'keep: no record, still open');
    // a new connection on a changed route is served by its new version
    const fresh = await track(ports.close!, 1);
    assert.equal(fresh[0]!.tag, 'A');
  });

  it('deleting a route with on_change close cuts its sessions as route_deleted', async () => {
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/gone', { server_port: ports.gone, upstream: up(b), on_change: { action: 'close' } })).status, 201);
    const [c] = await track(ports.gone!, 1);
    assert.equal(c!.tag, 'B');
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/gone')).status, 200);
    await c!.closed;
    await waitFor(() => ended('gone', 'route_deleted').length === 1, 2000, 'the access record');
    assert.equal(ended('gone', 'route_deleted')[0]!.error, 'route gone deleted (on_change: close)');
  });

  it('on_node_removed closes only the sessions on the node the upstream dropped', async () => {
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/u', up(a, b))).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/nodes', { server_port: ports.nodes, upstream_id: 'u', on_node_removed: { action: 'close' } })).status, 201);
    const both = await track(ports.nodes!, 2); // round robin: one on each node
    assert.deepEqual(both.map((c) => c.tag).sort(), ['A', 'B']);
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/u', up(b))).status, 200);
    const onA = both.find((c) => c.tag === 'A')!;
    const onB = both.find((c) => c.tag === 'B')!;
    await onA.closed;
    assert.equal(await alive(onB), true, 'the session on the kept node goes on (on_change: keep)');
    await waitFor(() => ended('nodes', 'node_removed').length === 1, 2000, 'the access record');
    assert.deepEqual(
      ended('nodes', 'node_removed').map((r) => [r.upstream, r.error]),
      [[`127.0.0.1:${a.port}`, 'route nodes lost its node (on_node_removed: close)']],
    );
  });

  it('on_node_removed follows the upstream traffic-split sends to, not only the route\'s own', async () => {
    // the route's own upstream (node B) is never picked: traffic-split sends every connection to upstream ts
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/own', up(b))).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/ts', up(a, b))).status, 201);
    const split = { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'ts', weight: 1 }] }] } };
    const route = { server_port: ports.split, upstream_id: 'own', plugins: split, on_node_removed: { action: 'close' } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/split', route)).status, 201);
    const both = await track(ports.split!, 2); // ts's round robin: one on each node
    assert.deepEqual(both.map((c) => c.tag).sort(), ['A', 'B']);
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/ts', up(b))).status, 200);
    const onA = both.find((c) => c.tag === 'A')!;
    const onB = both.find((c) => c.tag === 'B')!;
    await waitFor(() => onA.isClosed(), 2000, 'the connection on the removed node to be closed');
    assert.equal(await alive(onB), true, 'the session on the node ts kept goes on');
    await waitFor(() => ended('split', 'node_removed').length === 1, 2000, 'the access record');
    assert.deepEqual(
      ended('split', 'node_removed').map((r) => [r.upstream, r.error]),
      [[`127.0.0.1:${a.port}`, 'route split lost its node (on_node_removed: close)']],
    );
    assert.equal(w.access.filter((r) => r.route === 'split').length, 1, 'the other connection is still open');
  });
});

describe('session policies on UDP sessions', () => {
  let w: TestWeir;
  let echo: UdpEcho;
  let port: number;
  before(async () => {
    echo = await startUdpEcho('e:');
    port = await freePort();
    w = await startTestWeir([], { udp: [`"127.0.0.1:${port}"`] });
  });
  after(async () => {
    await w.stop();
    await echo.close();
  });

  it('a change of a route with on_change close ends its sessions as route_changed', async () => {
    const route = { server_port: port, on_change: { action: 'close' }, upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/dns', route)).status, 201);
    const client = await udpClient();
    try {
      client.send('one', port);
      assert.deepEqual(await client.waitReplies(1), ['e:one']);
      assert.equal(w.weir.udpProxy.activeSessions(), 1);
      assert.equal((await w.admin('PATCH', '/apisix/admin/stream_routes/dns', { desc: 'v2' })).status, 200);
      await waitFor(() => w.access.some((r) => r.protocol === 'udp' && r.end === 'route_changed'), 2000, 'the session record');
      assert.equal(w.weir.udpProxy.activeSessions(), 0);
      const rec = w.access.find((r) => r.protocol === 'udp')!;
      assert.deepEqual([rec.datagrams_from_client, rec.datagrams_to_client, rec.error], [1, 1, 'route dns changed (on_change: close)']);
      // the client's next datagram opens a new session on the new version
      client.send('two', port);
      assert.deepEqual(await client.waitReplies(2), ['e:one', 'e:two']);
    } finally {
      await client.close();
    }
  });
});

describe('session policies with the route\'s plugins', () => {
  let w: TestWeir;
  let a: TestServer;
  let port: number;
  let metricsPort: number;
  const conns: Open[] = [];
  before(async () => {
    a = await tagged('A');
    port = await freePort();
    metricsPort = await freePort();
    w = await startTestWeir([`"127.0.0.1:${port}"`], {
      extraYaml: prometheusYaml(metricsPort, ['limit-conn']),
    });
  });
  after(async () => {
    for (const c of conns) c.sock.destroy();
    await w.stop();
    await a.close();
  });

  it('a close gives limit-conn its count back (the next connection is admitted) and is counted in weir_stream_cut_total', async () => {
    const route = {
      server_port: port,
      on_change: { action: 'close' },
      plugins: { 'limit-conn': { conn: 1, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' }, prometheus: {} },
      upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } },
    };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/lim', route)).status, 201);
    const first = await open(port);
    conns.push(first);
    assert.equal(first.tag, 'A');
    // the one allowed connection is taken: the next is refused at once
    const refused = await connect(port);
    refused.on('error', () => {});
    conns.push({ sock: refused, tag: '', closed: Promise.resolve(), isClosed: () => true });
    // weir's FIN shows as 'end' (the helper's sockets are half-open capable), a reset as 'close'
    await new Promise<void>((resolve) => {
      refused.once('end', resolve);
      refused.once('close', resolve);
    });
    await waitFor(() => w.access.some((r) => r.route === 'lim' && r.end === 'rejected'), 2000, 'the refusal record');
    // a write that leaves the plugin conf alone keeps the same counts: only the close can free the slot
    assert.equal((await w.admin('PATCH', '/apisix/admin/stream_routes/lim', { desc: 'changed' })).status, 200);
    await first.closed;
    await waitFor(() => w.access.some((r) => r.route === 'lim' && r.end === 'route_changed'), 2000, 'the cut record');
    const next = await open(port);
    conns.push(next);
    assert.equal(next.tag, 'A');
    assert.equal(await alive(next), true, 'admitted, not refused');
    assert.equal(w.access.filter((r) => r.route === 'lim' && r.end === 'rejected').length, 1);
    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_cut_total', { protocol: 'tcp', reason: 'route_changed' }), 1);
  });
});
