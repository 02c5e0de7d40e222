// APISIX's t/stream-plugin blocks for mqtt-proxy, prometheus and syslog that apply at L4, through a whole weir
// (config, Admin API, SQLite, snapshot, real sockets), named after file and block. APISIX's upstream 1995
// ("hello world" after the first bytes) is a local server; its mock syslog servers are local UDP/TCP servers.
// Blocks left out: the `upstream` field inside mqtt-proxy's conf (APISIX 2.x, removed), schema errors at the
// Admin API and plugin_metadata (the plugin framework answers those), nginx-only metrics (stub_status).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { exchange, freePort, startServer, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';

/** APISIX's test packets (mqtt-proxy.t, mqtt-proxy2.t). */
const V4_FOO = Buffer.from('\x10\x0f\x00\x04\x4d\x51\x54\x54\x04\x02\x00\x3c\x00\x03\x66\x6f\x6f', 'latin1');
const V5_EMPTY = Buffer.from('\x10\x0d\x00\x04\x4d\x51\x54\x54\x05\x02\x00\x3c\x00\x00\x00', 'latin1');
const V5_ID = (id: string) => Buffer.concat([Buffer.from([0x10, 0x0d + id.length, 0x00, 0x04]), Buffer.from('MQTT'), Buffer.from([0x05, 0x02, 0x00, 0x3c, 0x00, 0x00, id.length]), Buffer.from(id)]);

describe("APISIX's t/stream-plugin blocks: mqtt-proxy, prometheus, syslog", () => {
  let w: TestWeir;
  let hello: TestServer;
  let hello2: TestServer;
  let listen: number;
  let metricsPort: number;
  const syslogUdp: string[] = [];
  let udpServer: dgram.Socket;
  let udpPort: number;
  const tcpLines: Record<number, string[]> = {};
  const tcpServers: TestServer[] = [];

  const helloServer = (host = '127.0.0.1'): Promise<TestServer> =>
    startServer((s) => {
      s.once('data', () => s.end('hello world\n'));
    }, host);

  /** A mock TCP syslog server collecting lines. */
  async function tcpSyslog(): Promise<number> {
    const lines: string[] = [];
    let buffered = '';
    const server = await startServer((s) =>
      s.on('data', (d) => {
        buffered += d;
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
      }),
    );
    tcpServers.push(server);
    tcpLines[server.port] = lines;
    return server.port;
  }

  before(async () => {
    hello = await helloServer();
    hello2 = await helloServer('127.0.0.2');
    listen = await freePort();
    metricsPort = await freePort();
    udpServer = dgram.createSocket('udp4');
    udpServer.on('message', (m) => syslogUdp.push(m.toString()));
    await new Promise<void>((r) => udpServer.bind(0, '127.0.0.1', () => r()));
    udpPort = udpServer.address().port;
    w = await startTestWeir([`"127.0.0.1:${listen}"`], {
      extraYaml: prometheusYaml(metricsPort, ['mqtt-proxy', 'syslog']),
    });
  });
  after(async () => {
    await w?.stop();
    await hello?.close();
    await hello2?.close();
    for (const s of tcpServers) await s.close();
    udpServer?.close();
  });

  const put = async (path: string, body: unknown): Promise<void> => {
    const r = await w.admin('PUT', path, body);
    assert.ok(r.status === 200 || r.status === 201, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const node = (s: TestServer, host = '127.0.0.1') => ({ [`${host}:${s.port}`]: 1 });
  const send = async (bytes: Buffer | string) => (await exchange(listen, bytes)).data.toString();

  it('mqtt-proxy.t TEST 1-3: a 3.1.1 CONNECT reaches the upstream ("hello world"); "mmm" is closed', async () => {
    await put('/apisix/admin/stream_routes/1', {
      remote_addr: '127.0.0.1',
      server_port: listen,
      plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 } },
      upstream: { type: 'roundrobin', nodes: node(hello) },
    });
    assert.equal(await send(V4_FOO), 'hello world\n');
    assert.equal(await send('mmm'), '');
    await waitFor(() => w.access.some((r) => r.end === 'rejected'));
    // APISIX logs "Received unexpected MQTT packet type+flags"; weir's access record says the same in its words
    assert.equal(w.access.find((r) => r.end === 'rejected')!.error, '503 mqtt-proxy: malformed CONNECT: expected a CONNECT packet (first byte 0x10), got 0x6d');
  });

  it('mqtt-proxy.t TEST 4-5: a route on another server_port: "not hit any route", closed', async () => {
    await put('/apisix/admin/stream_routes/1', {
      remote_addr: '127.0.0.1',
      server_port: 2000,
      plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 } },
      upstream: { type: 'roundrobin', nodes: node(hello) },
    });
    assert.equal(await send(Buffer.from('\x10\x0f', 'latin1')), '');
    await waitFor(() => w.access.at(-1)?.end === 'no_route');
  });

  it('mqtt-proxy2.t TEST 1-2: chash on mqtt_client_id with an unresolvable node: the connection fails', async () => {
    await put('/apisix/admin/stream_routes/1', {
      remote_addr: '127.0.0.1',
      server_port: listen,
      plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 } },
      upstream: { type: 'chash', key: 'mqtt_client_id', nodes: [{ host: 'loc.invalid', port: 1995, weight: 1 }] },
    });
    assert.equal(await send(V4_FOO), '');
    await waitFor(() => w.access.at(-1)?.end === 'connect_failed', 10_000);
  });

  it('mqtt-proxy2.t TEST 3-7: chash on mqtt_client_id over two nodes: an empty id hashes the client address; each id sticks (differs: the node an id lands on follows weir\'s hash, not lua-resty-chash\'s)', async () => {
    await put('/apisix/admin/upstreams/1', { type: 'chash', key: 'mqtt_client_id', nodes: [{ host: '127.0.0.2', port: hello2.port, weight: 1 }, { host: '127.0.0.1', port: hello.port, weight: 1 }] });
    await put('/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.1', server_port: listen, plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 5 } }, upstream_id: 1 });
    const nodeOf = async (packet: Buffer): Promise<string> => {
      const n = w.access.length;
      assert.equal(await send(packet), 'hello world\n');
      await waitFor(() => w.access.length > n);
      return w.access.at(-1)!.upstream!;
    };
    const byAddr = await nodeOf(V5_EMPTY);
    assert.equal(await nodeOf(V5_EMPTY), byAddr, 'an empty id: the client address decides, the same each time');
    const seen = new Set<string>();
    // 20 ids: the ring follows the nodes' ports, which differ per run; 6 ids fell on one node about 1 run in 30
    for (const id of 'fghijklmnopqrstuvwxy'.split('')) {
      const first = await nodeOf(V5_ID(id));
      assert.equal(await nodeOf(V5_ID(id)), first, `id ${id} sticks`);
      seen.add(first);
    }
    assert.equal(seen.size, 2, 'ids spread over both nodes');
  });

  it('prometheus.t TEST 1-5: apisix_stream_connection_total{route="mqtt"} counts a proxied and a refused connection', async () => {
    await put('/apisix/admin/stream_routes/1', { server_port: 2000, upstream: { nodes: node(hello) } }); // out of the way
    await put('/apisix/admin/stream_routes/mqtt', {
      plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 }, prometheus: {} },
      upstream: { type: 'roundrobin', nodes: [{ host: '127.0.0.1', port: hello.port, weight: 1 }] },
    });
    assert.equal(await send(V4_FOO), 'hello world\n');
    await waitFor(() => w.access.at(-1)?.route === 'mqtt');
    assert.equal(sample(await scrape(metricsPort), 'apisix_stream_connection_total', { route: 'mqtt' }), 1);
    assert.equal(await send('mmm'), '');
    await waitFor(() => w.access.filter((r) => r.route === 'mqtt').length === 2);
    assert.equal(sample(await scrape(metricsPort), 'apisix_stream_connection_total', { route: 'mqtt' }), 2);
    assert.ok(/apisix_node_info\{hostname="[^"]+"\} 1/.test(await scrape(metricsPort)), 'prometheus.t TEST 7: basic metrics');
    await w.admin('DELETE', '/apisix/admin/stream_routes/mqtt');
  });

  it('syslog.t TEST 1-2: UDP, batch_max_size 1, no log_format: an entry per connection, the client answered', async () => {
    await put('/apisix/admin/upstreams/1', { nodes: node(hello), type: 'roundrobin' });
    await put('/apisix/admin/stream_routes/1', { plugins: { syslog: { host: '127.0.0.1', port: udpPort, sock_type: 'udp', batch_max_size: 1, flush_limit: 1 } }, upstream_id: '1' });
    assert.equal(await send('mmm'), 'hello world\n');
    await waitFor(() => syslogUdp.length === 1, 5000);
    const json = JSON.parse(syslogUdp[0]!.replace(/^<46>1 \S+ \S+ weir \d+ - - /, ''));
    assert.equal(json.route_id, '1');
    assert.equal(json.client_ip, '127.0.0.1');
  });

  it('syslog.t TEST 6-7: changing the plugin\'s port sends the next batch to the new server', async () => {
    const [first, second] = [await tcpSyslog(), await tcpSyslog()];
    const route = (port: number) => ({ plugins: { syslog: { host: '127.0.0.1', port, batch_max_size: 1 } }, upstream: { nodes: node(hello), type: 'roundrobin' } });
    await put('/apisix/admin/stream_routes/1', route(first));
    assert.equal(await send('mmm'), 'hello world\n');
    await waitFor(() => tcpLines[first]!.length === 1, 5000);
    await put('/apisix/admin/stream_routes/1', route(second));
    assert.equal(await send('mmm'), 'hello world\n');
    await waitFor(() => tcpLines[second]!.length === 1, 5000);
    assert.equal(tcpLines[first]!.length, 1);
  });

  it('syslog.t TEST 8-9: log_format in the plugin: {"vip": "$remote_addr"}', async () => {
    const port = await tcpSyslog();
    await put('/apisix/admin/stream_routes/1', {
      plugins: { syslog: { batch_max_size: 1, flush_limit: 1, log_format: { vip: '$remote_addr' }, host: '127.0.0.1', port } },
      upstream: { nodes: node(hello), type: 'roundrobin' },
    });
    assert.equal(await send('mmm'), 'hello world\n');
    await waitFor(() => tcpLines[port]!.length === 1, 5000);
    assert.deepEqual(JSON.parse(tcpLines[port]![0]!.replace(/^<46>1 \S+ \S+ weir \d+ - - /, '')), { vip: '127.0.0.1' });
  });
});
