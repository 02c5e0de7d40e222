// UDP through a whole weir (config file, Admin API, SQLite, access log): echo, many clients, matching,
// idle expiry, the session cap under a flood, and a route change that only new sessions see.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestWeir, type TestWeir } from '../helpers/weir';
import { deadUdpPort, startUdpEcho, udpClient, until, wait, type UdpClient, type UdpEcho } from '../helpers/udp';

/** Session cap of this weir: above the 200-client test, below that plus the flood. */
const CAP = 250;
const FLOOD = 300;

describe('weir UDP proxy', () => {
  let w: TestWeir;
  let a: UdpEcho;
  let b: UdpEcho;
  let p1: number; // 127.0.0.1 listener
  let p2: number; // second 127.0.0.1 listener (server_port routing)
  let p6: number; // [::1] listener
  const clients: UdpClient[] = [];

  async function client(host = '127.0.0.1'): Promise<UdpClient> {
    const c = await udpClient(host);
    clients.push(c);
    return c;
  }

  /**
   * A client on a port no earlier client of this file had: weir keys sessions by client address and port, so a
   * port the OS hands out again (after the flood test closed hundreds) would find that client's open session.
   */
  async function newClient(): Promise<UdpClient> {
    const used = new Set(clients.map((c) => c.port));
    for (let i = 0; i < 50; i++) {
      const c = await udpClient();
      if (!used.has(c.port)) {
        clients.push(c);
        return c;
      }
      await c.close();
    }
    throw new Error('no fresh UDP port in 50 tries');
  }
  const node = (e: UdpEcho) => ({ [`127.0.0.1:${e.port}`]: 1 });

  before(async () => {
    a = await startUdpEcho('a:');
    b = await startUdpEcho('b:');
    p1 = await deadUdpPort();
    p2 = await deadUdpPort();
    p6 = await deadUdpPort('::1');
    w = await startTestWeir([], {
      udp: [`"127.0.0.1:${p1}"`, `"127.0.0.1:${p2}"`, `"[::1]:${p6}"`],
      extraYaml: ['  stream:', `    udp_max_sessions: ${CAP}`].join('\n'),
    });
    assert.deepEqual(
      w.weir.udpProxy.listeners.map((l) => `${l.host}:${l.port}`),
      [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`, `::1:${p6}`],
    );
    const put = await w.admin('PUT', '/apisix/admin/upstreams/echo-a', { type: 'roundrobin', scheme: 'udp', nodes: node(a) });
    assert.equal(put.status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/a', { upstream_id: 'echo-a' })).status, 201);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await w?.stop();
    await a?.close();
    await b?.close();
  });

  it('echoes through the proxy on IPv4 and IPv6 listeners, replying from the listener address', async () => {
    const c = await client();
    c.send('ping4', p1);
    assert.deepEqual(await c.waitReplies(1), ['a:ping4']);
    assert.deepEqual([c.replies[0]!.address, c.replies[0]!.port], ['127.0.0.1', p1]);
    const c6 = await client('::1');
    c6.send('ping6', p6, '::1');
    assert.deepEqual(await c6.waitReplies(1), ['a:ping6']);
    assert.deepEqual([c6.replies[0]!.address, c6.replies[0]!.port], ['::1', p6]);
  });

  it('gives 200 concurrent clients only their own replies', async () => {
    const many: UdpClient[] = [];
    for (let i = 0; i < 200; i++) many.push(await client());
    for (let round = 0; round < 3; round++) many.forEach((c, i) => c.send(`c${i}-r${round}`, p1));
    // 600 small datagrams in one burst: more than the 212992-byte default buffer holds (256). weir asks for
    // 4 MiB, capped at net.core.rmem_max (a stock 212992 would leave room for ~512). Bounded: a loss fails the wait.
    await until(() => many.every((c) => c.replies.length >= 3), 10000, 'every client answered 3 times');
    await wait(50);
    many.forEach((c, i) => {
      assert.deepEqual(c.replies.map((r) => r.text).sort(), [`a:c${i}-r0`, `a:c${i}-r1`, `a:c${i}-r2`]);
    });
    await Promise.all(many.map((c) => c.close()));
  });

  it('routes by server_port and remote_addr', async () => {
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/0-port', { server_port: p2, upstream: { nodes: node(b) } })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/0-remote', { remote_addr: '::1', upstream: { nodes: node(b) } })).status, 201);
    try {
      const [c1, c2, c6] = [await client(), await client(), await client('::1')];
      c1.send('x', p1);
      c2.send('y', p2);
      c6.send('z', p6, '::1');
      assert.deepEqual(await c1.waitReplies(1), ['a:x']);
      assert.deepEqual(await c2.waitReplies(1), ['b:y']);
      assert.deepEqual(await c6.waitReplies(1), ['b:z']);
    } finally {
      await w.admin('DELETE', '/apisix/admin/stream_routes/0-port');
      await w.admin('DELETE', '/apisix/admin/stream_routes/0-remote');
    }
  });

  it('ends idle sessions after the upstream timeout and logs datagrams and bytes', async () => {
    // 1 s: the reply must come back before the session is idle, and a busy machine may take a few hundred ms
    const up = { type: 'roundrobin', nodes: node(b), timeout: { connect: 1, send: 1, read: 1 } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/0-idle', { server_port: p2, upstream: up })).status, 201);
    try {
      const c = await client();
      c.send('idle?', p2);
      assert.deepEqual(await c.waitReplies(1), ['b:idle?']);
      const me = `127.0.0.1:${c.port}`;
      await until(() => w.access.some((r) => r.client === me), 10_000, 'access record');
      const r = w.access.find((x) => x.client === me)!;
      assert.deepEqual(
        [r.protocol, r.route, r.end, r.datagrams_from_client, r.datagrams_to_client, r.bytes_from_client, r.bytes_to_client],
        ['udp', '0-idle', 'idle_timeout', 1, 1, 5, 7],
      );
      assert.ok(r.duration_ms >= 950, `duration ${r.duration_ms}`);
    } finally {
      await w.admin('DELETE', '/apisix/admin/stream_routes/0-idle');
    }
  });

  it('keeps an established session working through a flood of distinct source ports at the cap', async () => {
    const est = await client();
    est.send('e1', p1);
    await est.waitReplies(1);
    est.send('e2', p1);
    await est.waitReplies(2);
    const before = w.weir.udpProxy.stats();
    const open = w.weir.udpProxy.activeSessions();
    const flood: UdpClient[] = [];
    for (let i = 0; i < FLOOD; i++) flood.push(await client());
    // Sent in batches: a burst beyond the kernel's receive buffer would be lost before weir sees it.
    // The table is full of established sessions by now, so the flood's sessions evict each other.
    const floodsBefore = a.received.filter((t) => t === 'flood').length;
    for (let i = 0; i < FLOOD; i += 50) {
      for (const f of flood.slice(i, i + 50)) f.send('flood', p1);
      const want = floodsBefore + i + 50;
      await until(() => a.received.filter((t) => t === 'flood').length === want, 10_000, 'flood at the upstream');
    }
    // A flood port the OS reused from an earlier test's closed client finds that client's old session.
    const created = w.weir.udpProxy.stats().sessions - before.sessions;
    assert.ok(open + created > CAP, `${open} + ${created} sessions must exceed the cap`);
    assert.equal(w.weir.udpProxy.activeSessions(), CAP);
    assert.equal(w.weir.udpProxy.stats().evicted - before.evicted, open + created - CAP);
    est.send('e3', p1);
    assert.deepEqual(await est.waitReplies(3), ['a:e1', 'a:e2', 'a:e3']);
    await Promise.all(flood.map((c) => c.close()));
  });

  it('applies a route change to new sessions only', async () => {
    const old = await client();
    old.send('1', p1);
    assert.deepEqual(await old.waitReplies(1), ['a:1']);
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/echo-a', { type: 'roundrobin', nodes: node(b) })).status, 200);
    const fresh = await newClient();
    fresh.send('2', p1);
    old.send('3', p1);
    assert.deepEqual(await fresh.waitReplies(1), ['b:2']);
    assert.deepEqual(await old.waitReplies(2), ['a:1', 'a:3']);
  });

  it('drops datagrams no route matches and counts them', async () => {
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/a')).status, 200);
    const before = w.weir.udpProxy.stats().noRoute;
    const c = await client();
    c.send('nobody', p2);
    await until(() => w.weir.udpProxy.stats().noRoute === before + 1, 10_000, 'no-route count');
    await wait(50);
    assert.deepEqual(c.replies, []);
  });
});
