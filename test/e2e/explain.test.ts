// Explain against reality: 1,000 random routes over four plain listeners (two ports on two loopback addresses)
// and a TLS passthrough one; for 200 random connections from random 127.0.x.y clients, the route and the next
// node explain names must be the route and node the real connection then gets (its access record). Then the same
// through PROXY headers: explain with proxy_peer against real connections that send one, trusted or not, to a
// listener that reads it and to one that does not, and on a stream_listeners object as on a config item. Then
// what explain says the plugins would decide (ip-restriction, limit-conn, traffic-split), checked against real
// connections through the same routes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { putObject } from '../../src/objects/index';
import type { AccessRecord } from '../../src/log/logger';
import { connect, exchange, freePort, readUntil, startEchoServer, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { pickOne, prng } from '../proxy/match/rules';

const SNIS = ['a.test.com', 'b.test.com', '*.test.com', '*.a.test.com', '*'];
const CLIENT_SNIS = ['a.test.com', 'b.test.com', 'x.a.test.com', 'z.test.com', 'other.org'];

/** Connect like a client would; resolves with the local port once the connection is over (or cut). */
function probe(host: string, port: number, localAddress: string, sni: string | null): Promise<number> {
  return new Promise((resolve) => {
    let localPort = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(localPort);
    };
    const raw = net.connect({ host, port, localAddress });
    // a passthrough upstream echoes the ClientHello back, which fails the client's handshake: that ends it
    const sock: net.Socket = sni === null ? raw : tls.connect({ socket: raw, servername: sni, rejectUnauthorized: false });
    const timer = setTimeout(finish, 3000);
    raw.once('connect', () => {
      localPort = raw.localPort ?? 0;
      if (sni === null) sock.write('ping');
    });
    raw.on('error', finish);
    sock.on('data', () => finish());
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

describe('explain names the route and node a real connection gets', () => {
  let w: TestWeir;
  let nodes: TestServer[];
  let P1: number;
  let P2: number;
  let P3: number;

  before(async () => {
    nodes = [await startEchoServer(), await startEchoServer()];
    P1 = await freePort();
    P2 = await freePort();
    P3 = await freePort();
    w = await startTestWeir([
      `"127.0.0.1:${P1}"`, `"127.0.0.2:${P1}"`, `"127.0.0.1:${P2}"`, `"127.0.0.2:${P2}"`,
      `{addr: "127.0.0.1:${P3}", tls_passthrough: true}`,
    ]);
    const store = w.weir.store;
    putObject({ store }, 'upstreams', 'u1', { type: 'roundrobin', nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port, weight: 1 })) });
    const rand = prng(16);
    for (let i = 0; i < 1000; i++) {
      const v: Record<string, unknown> = { upstream_id: 'u1' };
      const p = rand();
      if (p < 0.4) v.server_port = P1;
      else if (p < 0.7) v.server_port = P2;
      else if (p < 0.8) v.server_port = P3;
      // clients come from 127.0.0.0/18: a few routes cover a given one, so some find none
      if (rand() < 0.97) {
        const prefix = pickOne(rand, [24, 26, 28, 30, 32, 32]);
        v.remote_addr = `127.0.${Math.floor(rand() * 64)}.${Math.floor(rand() * 256)}/${prefix}`;
      } else {
        v.sni = pickOne(rand, SNIS);
      }
      if (rand() < 0.15) v.server_addr = pickOne(rand, ['127.0.0.1', '127.0.0.2', '127.0.0.0/8']);
      if (v.sni === undefined && rand() < 0.25) v.sni = pickOne(rand, SNIS);
      putObject({ store }, 'stream_routes', `r${String(Math.floor(rand() * 1e6)).padStart(6, '0')}-${i}`, v);
    }
    w.weir.refresh();
    assert.equal(w.weir.snapshot().routes.length, 1000);
  });
  after(async () => {
    await w?.stop();
    for (const n of nodes ?? []) await n.close();
  });

  it('over 200 random connections', async () => {
    const rand = prng(2026);
    const listeners: Array<[string, number, boolean]> = [
      ['127.0.0.1', P1, false], ['127.0.0.2', P1, false], ['127.0.0.1', P2, false], ['127.0.0.2', P2, false], ['127.0.0.1', P3, true],
    ];
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 200; n++) {
      const [host, port, passthrough] = pickOne(rand, listeners);
      const client = `127.0.${Math.floor(rand() * 64)}.${1 + Math.floor(rand() * 254)}`;
      const sni = passthrough ? pickOne(rand, CLIENT_SNIS) : null;
      const q = new URLSearchParams({ remote_addr: client, server_addr: host, server_port: String(port), ...(sni === null ? {} : { sni }) });
      const ex = await w.admin('GET', `/apisix/admin/stream_routes/explain?${q}`);
      assert.equal(ex.status, 200, JSON.stringify(ex.body));
      const localPort = await probe(host, port, client, sni);
      assert.ok(localPort > 0, 'connected');
      let rec: AccessRecord | undefined;
      await waitFor(() => (rec = w.access.find((r) => r.client === `${client}:${localPort}`)) !== undefined, 5000, `access record of ${client}:${localPort}`);
      const context = `probe ${n}: ${q} -> ${JSON.stringify(ex.body)} / ${JSON.stringify(rec)}`;
      assert.equal(rec!.route, ex.body.route?.id ?? null, context);
      assert.equal(rec!.end === 'no_route' ? 'no_route' : 'proxied', ex.body.outcome, context);
      if (rec!.upstream !== null) assert.equal(rec!.upstream, ex.body.route.next_node, context);
      outcomes.set(ex.body.outcome, (outcomes.get(ex.body.outcome) ?? 0) + 1);
    }
    // the random set must exercise both answers
    assert.ok((outcomes.get('proxied') ?? 0) > 50 && (outcomes.get('no_route') ?? 0) > 5, JSON.stringify([...outcomes]));
  });
});

/** Connect from `localAddress`, send a PROXY v1 header naming `source`, then a ping; resolves with the local port once over. */
function proxiedProbe(port: number, localAddress: string, source: { addr: string; port: number }): Promise<number> {
  return new Promise((resolve) => {
    let localPort = 0;
    let done = false;
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(localPort);
    };
    const timer = setTimeout(finish, 3000);
    sock.once('connect', () => {
      localPort = sock.localPort ?? 0;
      sock.write(`PROXY TCP4 ${source.addr} 127.0.0.1 ${source.port} ${port}\r\nping`);
    });
    sock.on('data', finish);
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

describe('explain with proxy_peer names what a connection through a PROXY header gets', () => {
  let w: TestWeir;
  let echo: TestServer;
  let P: number;
  let Q: number;

  before(async () => {
    echo = await startEchoServer();
    P = await freePort();
    Q = await freePort();
    // P reads PROXY headers from 127.0.0.1 only; Q reads none (a header there is data)
    w = await startTestWeir([`{addr: "127.0.0.1:${P}", proxy_protocol: true}`, `"127.0.0.1:${Q}"`], {
      extraYaml: '  stream:\n    real_ip_from:\n      - 127.0.0.1',
    });
    const up = { nodes: { [`127.0.0.1:${echo.port}`]: 1 } };
    const routes: Array<[string, Record<string, unknown>]> = [
      ['a', { server_port: P, remote_addr: '203.0.113.0/25' }],
      ['b', { remote_addr: '203.0.113.128/25' }],
      ['c', { server_port: Q, remote_addr: '127.0.0.1' }],
      ['d', { server_port: P, remote_addr: '198.51.100.0/24' }],
    ];
    for (const [id, v] of routes) assert.equal((await w.admin('PUT', `/apisix/admin/stream_routes/${id}`, { ...v, upstream: up })).status, 201);
  });
  after(async () => {
    await w?.stop();
    await echo?.close();
  });

  it('over every listener x peer x declared source', async () => {
    const outcomes: string[] = [];
    let sourcePort = 20000;
    for (const port of [P, Q]) {
      for (const peer of ['127.0.0.1', '127.0.0.2']) {
        for (const addr of ['203.0.113.7', '203.0.113.200', '198.51.100.9']) {
          const source = { addr, port: sourcePort++ };
          const q = new URLSearchParams({ remote_addr: addr, remote_port: String(source.port), server_port: String(port), proxy_peer: peer });
          const ex = await w.admin('GET', `/apisix/admin/stream_routes/explain?${q}`);
          assert.equal(ex.status, 200, JSON.stringify(ex.body));
          const localPort = await proxiedProbe(port, peer, source);
          assert.ok(localPort > 0, 'connected');
          const hop = `${peer}:${localPort}`;
          let rec: AccessRecord | undefined;
          await waitFor(() => (rec = w.access.find((r) => r.proxy_peer === hop || r.client === hop)) !== undefined, 5000, `access record of ${hop}`);
          const context = `${q} -> ${JSON.stringify(ex.body)} / ${JSON.stringify(rec)}`;
          assert.equal(rec!.route, ex.body.route?.id ?? null, context);
          const real = rec!.end === 'no_route' || rec!.end === 'proxy_protocol_untrusted' ? rec!.end : 'proxied';
          assert.equal(real, ex.body.outcome, context);
          // the client the routes saw (a refused header names none: the record keeps the peer)
          if (real !== 'proxy_protocol_untrusted') assert.equal(rec!.client.replace(/:\d+$/, ''), ex.body.connection.remote_addr, context);
          outcomes.push(`${port === P ? 'P' : 'Q'} ${peer} ${addr}: ${ex.body.outcome} ${ex.body.route?.id ?? '-'}`);
        }
      }
    }
    // the declared source picks the route behind a trusted proxy; elsewhere the proxy is the client
    assert.deepEqual(outcomes, [
      'P 127.0.0.1 203.0.113.7: proxied a', 'P 127.0.0.1 203.0.113.200: proxied b', 'P 127.0.0.1 198.51.100.9: proxied d',
      'P 127.0.0.2 203.0.113.7: proxy_protocol_untrusted -', 'P 127.0.0.2 203.0.113.200: proxy_protocol_untrusted -', 'P 127.0.0.2 198.51.100.9: proxy_protocol_untrusted -',
      'Q 127.0.0.1 203.0.113.7: proxied c', 'Q 127.0.0.1 203.0.113.200: proxied c', 'Q 127.0.0.1 198.51.100.9: proxied c',
      'Q 127.0.0.2 203.0.113.7: no_route -', 'Q 127.0.0.2 203.0.113.200: no_route -', 'Q 127.0.0.2 198.51.100.9: no_route -',
    ]);
  });
});

describe('explain reads a stream_listeners object\'s PROXY protocol flags as it reads a config item\'s', () => {
  let w: TestWeir;
  let echo: TestServer;
  let P: number;
  let Q: number;

  before(async () => {
    echo = await startEchoServer();
    P = await freePort();
    Q = await freePort();
    // P: a config item; Q: an object; both read PROXY headers (from 127.0.0.1 only) and send one on
    w = await startTestWeir([`{addr: "127.0.0.1:${P}", proxy_protocol: true, proxy_protocol_to_upstream: true}`], {
      extraYaml: '  stream:\n    real_ip_from:\n      - 127.0.0.1',
    });
    const listener = { addr: `127.0.0.1:${Q}`, proxy_protocol: true, proxy_protocol_to_upstream: true };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/obj', listener)).status, 201);
    const route = { remote_addr: '203.0.113.0/24', upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/a', route)).status, 201);
  });
  after(async () => {
    await w?.stop();
    await echo?.close();
  });

  it('the same answers on both listeners, and real connections through the object get them', async () => {
    const answers: string[] = [];
    let sourcePort = 30000;
    for (const peer of ['127.0.0.1', '127.0.0.2']) {
      const source = { addr: '203.0.113.7', port: sourcePort++ };
      const ask = (port: number) =>
        w.admin('GET', `/apisix/admin/stream_routes/explain?${new URLSearchParams({ remote_addr: source.addr, remote_port: String(source.port), server_port: String(port), proxy_peer: peer })}`);
      const [item, object] = [(await ask(P)).body, (await ask(Q)).body];
      assert.deepEqual(object.listener, { addr: `tcp 127.0.0.1:${Q} (stream_listeners/obj)`, tls: null, proxy_protocol: true, proxy_protocol_to_upstream: true });
      assert.deepEqual(item.listener, { ...object.listener, addr: `tcp 127.0.0.1:${P} (apisix.stream_proxy.tcp[0])` });
      const same = (e: Record<string, unknown>) => ({ ...e, listener: null, connection: { ...(e.connection as object), server_port: 0 } });
      assert.deepEqual(same(object), same(item), peer);
      const localPort = await proxiedProbe(Q, peer, source);
      const hop = `${peer}:${localPort}`;
      let rec: AccessRecord | undefined;
      await waitFor(() => (rec = w.access.find((r) => r.proxy_peer === hop || r.client === hop)) !== undefined, 5000, `access record of ${hop}`);
      assert.equal(rec!.end === 'proxy_protocol_untrusted' ? rec!.end : 'proxied', object.outcome, JSON.stringify(rec));
      answers.push(`${peer}: ${object.outcome} ${object.route?.id ?? '-'}`);
    }
    assert.deepEqual(answers, ['127.0.0.1: proxied a', '127.0.0.2: proxy_protocol_untrusted -']);
  });
});

describe('explain says what the plugins would decide, and real connections do it', () => {
  let w: TestWeir;
  let a: TestServer;
  let b: TestServer;
  const port: Record<string, number> = {};

  before(async () => {
    a = await startEchoServer('A:');
    b = await startEchoServer('B:');
    for (const name of ['ip', 'lim', 'split']) port[name] = await freePort();
    w = await startTestWeir(Object.values(port).map((p) => `"127.0.0.1:${p}"`));
    const own = { nodes: { [`127.0.0.1:${a.port}`]: 1 } };
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/b', { nodes: { [`127.0.0.1:${b.port}`]: 1 } })).status, 201);
    const routes: Record<string, object> = {
      ip: { server_port: port.ip, upstream: own, plugins: { 'ip-restriction': { whitelist: ['127.0.0.1', '127.0.1.0/24'] } } },
      lim: { server_port: port.lim, upstream: own, plugins: { 'limit-conn': { conn: 1, burst: 1, default_conn_delay: 0.2, key: 'remote_addr' } } },
      split: {
        server_port: port.split,
        upstream: own,
        plugins: { 'traffic-split': { rules: [{ match: [{ vars: [['remote_addr', '==', '127.0.0.3']] }], weighted_upstreams: [{ upstream_id: 'b', weight: 2 }, { weight: 1 }] }] } },
      },
    };
    for (const [id, body] of Object.entries(routes)) assert.equal((await w.admin('PUT', `/apisix/admin/stream_routes/${id}`, body)).status, 201);
  });
  after(async () => {
    await w?.stop();
    await a?.close();
    await b?.close();
  });

  const explain = async (route: string, remote: string) => {
    const ex = await w.admin('GET', `/apisix/admin/stream_routes/explain?remote_addr=${remote}&server_port=${port[route]}`);
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    return ex.body as { route: { id: string; next_node: string | null }; plugins: Array<Record<string, unknown>>; outcome: string };
  };

  it('ip-restriction: allowed or denied for the client, and the denied one is refused', async () => {
    const allowed = await explain('ip', '127.0.1.9');
    assert.deepEqual(allowed.plugins, [{ name: 'ip-restriction', admits: true, reason: 'client 127.0.1.9 is in the whitelist: allowed', facts: { list: 'whitelist', listed: true } }]);
    assert.equal(allowed.outcome, 'proxied');
    const denied = await explain('ip', '127.0.0.2');
    assert.deepEqual(denied.plugins, [{ name: 'ip-restriction', admits: false, reason: 'client 127.0.0.2 is not in the whitelist: denied (403)', facts: { list: 'whitelist', listed: false, code: 403 } }]);
    assert.equal(denied.outcome, 'rejected');
    assert.equal((await exchange(port.ip!, 'x', { localAddress: '127.0.0.2' })).data.toString(), '');
    assert.equal((await exchange(port.ip!, 'x', { localAddress: '127.0.1.9' })).data.toString(), 'A:x');
    await waitFor(() => w.access.filter((r) => r.route === 'ip').length === 2);
    assert.deepEqual(w.access.filter((r) => r.route === 'ip').map((r) => [r.client.split(':')[0], r.end]), [['127.0.0.2', 'rejected'], ['127.0.1.9', 'closed']]);
  });

  it('limit-conn: the count against conn + burst, and admitted, delayed, refused as explain said', async () => {
    const facts = async () => (await explain('lim', '127.0.0.1')).plugins[0]!;
    assert.deepEqual(await facts(), {
      name: 'limit-conn', admits: true, reason: 'key 127.0.0.1 has 0 connections, conn is 1: would be admitted',
      facts: { key: '127.0.0.1', conn: 1, burst: 1, count: 0, decision: 'admitted' },
    });
    const first = await connect(port.lim!);
    first.write('1');
    await readUntil(first, (d) => d.toString() === 'A:1');
    assert.deepEqual(await facts(), {
      name: 'limit-conn', admits: true, reason: 'key 127.0.0.1 has 1 connections, over conn 1: would be delayed 200 ms',
      facts: { key: '127.0.0.1', conn: 1, burst: 1, count: 1, decision: 'delayed', delay_ms: 200 },
    });
    const second = await connect(port.lim!);
    second.write('2');
    await readUntil(second, (d) => d.toString() === 'A:2');
    const refused = await explain('lim', '127.0.0.1');
    assert.deepEqual(refused.plugins[0], {
      name: 'limit-conn', admits: false, reason: 'key 127.0.0.1 has 2 connections, conn + burst is 2: would be refused (503)',
      facts: { key: '127.0.0.1', conn: 1, burst: 1, count: 2, decision: 'refused' },
    });
    assert.equal(refused.outcome, 'rejected');
    assert.equal((await exchange(port.lim!, '3')).data.toString(), '', 'the third is refused');
    // another client has its own count
    assert.equal((await explain('lim', '127.0.0.5')).plugins[0]!.admits, true);
    first.end();
    second.end();
    await waitFor(() => w.access.filter((r) => r.route === 'lim').length === 3);
    assert.deepEqual(w.access.filter((r) => r.route === 'lim').map((r) => r.end).sort(), ['closed', 'closed', 'rejected']);
    assert.equal((await facts()).reason, 'key 127.0.0.1 has 0 connections, conn is 1: would be admitted', 'counts given back');
  });

  it("traffic-split: the rule and upstream it picks for the client, in the order real connections then get", async () => {
    const other = await explain('split', '127.0.0.1');
    assert.deepEqual(other.plugins, [{ name: 'traffic-split', admits: true, reason: "no rule matches: the route's upstream", facts: { rule: null, upstream: null } }]);
    assert.equal(other.route.next_node, `127.0.0.1:${a.port}`);
    // smooth weighted round robin, b:2 own:1  ->  b own b
    const expected = ['B', 'A', 'B'];
    for (const want of expected) {
      const ex = await explain('split', '127.0.0.3');
      const picked = want === 'B' ? 'upstream b (weight 2 of 3)' : "the route's upstream (weight 1 of 3)";
      assert.equal(ex.plugins[0]!.reason, `rule 1 matches and picks ${picked}`);
      assert.equal(ex.route.next_node, `127.0.0.1:${want === 'B' ? b.port : a.port}`);
      assert.equal(ex.outcome, 'proxied');
      assert.equal((await exchange(port.split!, 'x', { localAddress: '127.0.0.3' })).data.toString(), `${want}:x`, 'the real connection goes where explain said');
    }
  });
});
