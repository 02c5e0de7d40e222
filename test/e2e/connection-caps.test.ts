// Connection and session caps through a whole weir (config file, Admin API, prometheus export, real sockets on
// loopback): TCP connections over apisix.stream_proxy.max_connections or a listener's max_connections are closed
// and counted in weir_stream_refused_connections_total{reason}; a UDP listener's max_connections drops new clients
// beyond its sessions unanswered (weir_stream_udp_refused_sessions_total{reason="listener_max_sessions"}); and a
// config reload applies a changed listener cap and the limits on new UDP sessions to the running flow, keeping
// the open sessions; a UDP stream_listeners object caps its sessions the same way.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { freePort, startEchoServer, type TestServer } from '../helpers/net';
import { configYaml, startTestWeir, type TestWeir } from '../helpers/weir';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';
import { deadUdpPort, startUdpEcho, udpClient, until, wait, type UdpClient, type UdpEcho } from '../helpers/udp';

/** A TCP client that notes what it read and whether it was closed. */
function open(port: number) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const state = { s, text: '', closed: false };
  s.on('data', (d: Buffer) => (state.text += d.toString()));
  s.on('error', () => {});
  s.on('close', () => (state.closed = true));
  return state;
}

describe('connection and session caps (weir with a config file)', () => {
  let w: TestWeir;
  let tcpEcho: TestServer;
  let udpEcho: UdpEcho;
  let metricsPort: number;
  let adminPort: number;
  let capped: number, plain: number, dns: number;
  const clients: UdpClient[] = [];
  const tcp: Array<ReturnType<typeof open>> = [];

  /** The config with the UDP listener's cap and the nginx_config.stream lines given. */
  function yaml(udpCap: number, stream: string[]): string {
    return configYaml({
      tcp: [`{addr: "127.0.0.1:${capped}", max_connections: 1}`, `"127.0.0.1:${plain}"`],
      udp: [`{addr: "127.0.0.1:${dns}", max_connections: ${udpCap}}`],
      apisixYaml: '    max_connections: 3',
      adminPort,
      dbPath: w.dbPath,
      extraYaml: [
        '  stream:',
        ...stream.map((l) => `    ${l}`),
        prometheusYaml(metricsPort),
      ].join('\n'),
    });
  }

  async function client(host = '127.0.0.1'): Promise<UdpClient> {
    const c = await udpClient(host);
    clients.push(c);
    return c;
  }

  before(async () => {
    tcpEcho = await startEchoServer();
    udpEcho = await startUdpEcho('e:');
    [capped, plain, metricsPort] = [await freePort(), await freePort(), await freePort()];
    dns = await deadUdpPort();
    w = await startTestWeir([`{addr: "127.0.0.1:${capped}", max_connections: 1}`, `"127.0.0.1:${plain}"`], {
      udp: [`{addr: "127.0.0.1:${dns}", max_connections: 2}`],
      apisixYaml: '    max_connections: 3',
      extraYaml: [
        '  stream:',
        '    udp_max_sessions_per_source: 0',
        '    udp_session_rate: 0',
        '    udp_rcvbuf: 1m',
        prometheusYaml(metricsPort),
      ].join('\n'),
    });
    adminPort = Number(new URL(w.adminUrl).port);
    const tcpRoute = { upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${tcpEcho.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/tcp', { ...tcpRoute, server_port: capped })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/plain', { ...tcpRoute, server_port: plain })).status, 201);
    const udpRoute = { server_port: dns, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${udpEcho.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/dns', udpRoute)).status, 201);
  });
  after(async () => {
    for (const c of tcp) c.s.destroy();
    await Promise.all(clients.map((c) => c.close()));
    await w?.stop();
    await tcpEcho?.close();
    await udpEcho?.close();
  });

  it('TCP: refusals over the listener cap and the host cap are counted by reason in one scrape', async () => {
    const before = await scrape(metricsPort);
    assert.equal(sample(before, 'weir_stream_refused_connections_total', { reason: 'max_connections' }), 0);
    assert.equal(sample(before, 'weir_stream_refused_connections_total', { reason: 'listener_max_connections' }), 0);

    const a = open(capped);
    tcp.push(a);
    a.s.write('a');
    await until(() => a.text === 'a', 5000, 'a echoed');
    // the listener holds its one connection: the next two are closed unread
    const over = [open(capped), open(capped)];
    tcp.push(...over);
    await until(() => over.every((c) => c.closed), 5000, 'listener refusals');
    // the host cap (3) counts every listener: a on `capped`, two on `plain`, then a refusal
    const b = open(plain);
    const c = open(plain);
    tcp.push(b, c);
    b.s.write('b');
    c.s.write('c');
    await until(() => b.text === 'b' && c.text === 'c', 5000, 'b and c echoed');
    const d = open(plain);
    tcp.push(d);
    await until(() => d.closed, 5000, 'host refusal');
    assert.deepEqual([a.closed, b.closed, c.closed], [false, false, false], 'the admitted connections stay open');
    assert.deepEqual([...over, d].map((x) => x.text), ['', '', '']);

    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_refused_connections_total', { reason: 'listener_max_connections' }), 2);
    assert.equal(sample(text, 'weir_stream_refused_connections_total', { reason: 'max_connections' }), 1);
    assert.deepEqual(w.weir.proxy.limiter.refused(), { max_connections: 1, listener_max_connections: 2 });
    assert.deepEqual(w.access.filter((r) => r.end === 'refused').map((r) => r.error).sort(), ['listener_max_connections 1 reached', 'listener_max_connections 1 reached', 'max_connections 3 reached']);
    for (const x of [a, b, c]) x.s.end();
    await until(() => w.weir.proxy.activeConnections() === 0, 5000, 'connections closed');
  });

  it('UDP: a new client beyond the listener\'s max_connections is dropped unanswered and counted; its sessions go on', async () => {
    const own = [await client(), await client()];
    for (const c of own) c.send('hello', dns);
    for (const c of own) assert.deepEqual(await c.waitReplies(1), ['e:hello']);
    const third = await client();
    third.send('more', dns);
    await until(() => w.weir.udpProxy.stats().refusedListener === 1, 3000, 'one refusal');
    await wait(100);
    assert.equal(third.replies.length, 0);
    assert.equal(udpEcho.received.filter((t) => t === 'more').length, 0, 'nothing reached the upstream');
    for (const c of own) c.send('again', dns);
    for (const c of own) assert.deepEqual(await c.waitReplies(2), ['e:hello', 'e:again']);

    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'listener_max_sessions' }), 1);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'per_source' }), 0);
    assert.equal(w.weir.udpProxy.activeSessions(), 2);
  });

  it('a reload raises the UDP listener cap in place: the refused client gets its session, the open ones stay', async () => {
    writeFileSync(w.configPath, yaml(3, ['udp_max_sessions_per_source: 0', 'udp_session_rate: 0', 'udp_rcvbuf: 1m']));
    const r = await w.weir.reload();
    assert.deepEqual(r, { ok: true, errors: [], live: ['apisix.stream_proxy (listeners)'], kept: [] });
    const third = clients[2]!;
    third.send('now', dns);
    assert.deepEqual(await third.waitReplies(1), ['e:now']);
    assert.equal(w.weir.udpProxy.activeSessions(), 3);
    const fourth = await client();
    fourth.send('four', dns);
    await until(() => w.weir.udpProxy.stats().refusedListener === 2, 3000, 'a refusal at the new cap');
  });

  it('a reload applies udp_max_sessions_per_source and the rate to the running flow; open sessions keep echoing; udp_rcvbuf needs a restart', async () => {
    writeFileSync(w.configPath, yaml(10, ['udp_max_sessions_per_source: 1', 'udp_session_rate: 100', 'udp_session_burst: 7', 'udp_rcvbuf: 2m']));
    const r = await w.weir.reload();
    assert.deepEqual(r, {
      ok: true,
      errors: [],
      live: ['apisix.stream_proxy (listeners)', 'nginx_config.stream.udp_max_sessions_per_source / udp_session_rate / udp_session_burst'],
      kept: ['nginx_config.stream.udp_rcvbuf: 2097152 needs a restart or `weir upgrade`; still 1048576'],
    });
    assert.deepEqual(w.weir.udpProxy.flow.admission.settings, { maxPerSource: 1, rate: 100, burst: 7 });
    // 127.0.0.1 holds three sessions, over the new cap of 1: they stay, and keep every datagram
    const own = clients.slice(0, 3);
    for (const c of own) c.send('kept', dns);
    await until(() => own.every((c) => c.replies.at(-1)?.text === 'e:kept'), 3000, 'the open sessions answered');
    // a new client on that address is refused; another address is not
    const fresh = await client();
    fresh.send('fresh', dns);
    await until(() => w.weir.udpProxy.stats().refusedPerSource === 1, 3000, 'a per-source refusal');
    const other = await client('127.0.0.2');
    other.send('other', dns, '127.0.0.1');
    assert.deepEqual(await other.waitReplies(1), ['e:other']);
    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'per_source' }), 1);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'listener_max_sessions' }), 2);
  });

  it('a UDP stream_listeners object with max_connections caps its sessions; a PATCH changes the cap in place', async () => {
    const port = await deadUdpPort();
    const listener = { addr: `127.0.0.1:${port}`, protocol: 'udp', max_connections: 1 };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/obj', listener)).status, 201);
    const udpRoute = { server_port: port, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${udpEcho.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/obj', udpRoute)).status, 201);
    // clients on addresses of their own: udp_max_sessions_per_source is 1 since the last reload
    const first = await client('127.0.0.3');
    first.send('one', port, '127.0.0.1');
    assert.deepEqual(await first.waitReplies(1), ['e:one']);
    const second = await client('127.0.0.4');
    second.send('two', port, '127.0.0.1');
    await until(() => w.weir.udpProxy.stats().refusedListener === 3, 3000, 'a refusal at the object\'s cap');
    assert.equal(second.replies.length, 0);
    assert.equal((await w.admin('PATCH', '/apisix/admin/stream_listeners/obj', { max_connections: 2 })).status, 200);
    second.send('again', port, '127.0.0.1');
    assert.deepEqual(await second.waitReplies(1), ['e:again']);
    first.send('still', port, '127.0.0.1');
    assert.deepEqual(await first.waitReplies(2), ['e:one', 'e:still']);
    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'listener_max_sessions' }), 3);
  });
});
