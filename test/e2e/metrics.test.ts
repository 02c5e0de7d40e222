// The prometheus export end to end: weir in-process with stream_plugins [prometheus, mqtt-proxy], routes with
// and without the prometheus plugin, real sockets. Counts per route after traffic, bytes while a connection is
// still open, prefer_name, connect failures and latency, refusals, no-route and TLS failures per listener,
// health per node, UDP sessions; the series of a deleted route and of a node taken out of an upstream leave the
// export at the swap; `promtool check metrics` on the exposition; a real Prometheus server scraping weir, asked
// through its HTTP API.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, exchange, freePort, readUntil, startEchoServer, type TestServer } from '../helpers/net';
import { startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';
import { linesOf, prometheusYaml, sample, scrape } from '../helpers/metrics';
import { missingServers, startPrometheus, type PrometheusServer } from '../helpers/servers';
import { startUdpEcho, udpClient, type UdpEcho } from '../helpers/udp';

describe('prometheus export', () => {
  let w: TestWeir;
  let up: TestServer;
  let udpUp: UdpEcho;
  let metricsPort: number;
  const port: Record<string, number> = {};

  before(async () => {
    up = await startEchoServer();
    udpUp = await startUdpEcho();
    for (const name of ['plain', 'named', 'unmetered', 'dead', 'mqtt', 'noroute', 'tls', 'udp', 'gone', 'two']) port[name] = await freePort();
    metricsPort = await freePort();
    w = await startTestWeir(
      ['plain', 'named', 'unmetered', 'dead', 'mqtt', 'noroute', 'gone', 'two'].map((n) => `"127.0.0.1:${port[n]}"`).concat(`{addr: "127.0.0.1:${port.tls}", tls: true}`),
      {
        udp: [`"127.0.0.1:${port.udp}"`],
        extraYaml: prometheusYaml(metricsPort, ['mqtt-proxy']),
      },
    );
    const node = `127.0.0.1:${up.port}`;
    const deadPort = await freePort();
    const routes: Record<string, object> = {
      plain: { server_port: port.plain, plugins: { prometheus: {} }, upstream: { nodes: { [node]: 1 } } },
      named: { name: 'db', server_port: port.named, plugins: { prometheus: { prefer_name: true } }, upstream: { nodes: { [node]: 1 } } },
      unmetered: { server_port: port.unmetered, upstream: { nodes: { [node]: 1 } } },
      dead: { server_port: port.dead, plugins: { prometheus: {} }, upstream: { nodes: { [`127.0.0.1:${deadPort}`]: 1 }, retries: 0 } },
      mqtt: { server_port: port.mqtt, plugins: { prometheus: {}, 'mqtt-proxy': { protocol_level: 4 } }, upstream: { nodes: { [node]: 1 } } },
      udp: { server_port: port.udp, plugins: { prometheus: {} }, upstream: { nodes: { [`127.0.0.1:${udpUp.port}`]: 1 } } },
    };
    for (const [id, body] of Object.entries(routes)) assert.equal((await w.admin('PUT', `/apisix/admin/stream_routes/${id}`, body)).status, 201);
  });
  after(async () => {
    await w?.stop();
    await up?.close();
    await udpUp?.close();
  });

  const metrics = (): Promise<string> => scrape(metricsPort);

  it('counts connections and bytes per route after traffic (APISIX name for connections, weir_stream_* for bytes)', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await exchange(port.plain!, `hello ${i}`)).data.toString(), `hello ${i}`);
    await waitFor(() => w.access.filter((r) => r.route === 'plain').length === 5);
    const text = await metrics();
    const node = `127.0.0.1:${up.port}`;
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'plain' }), 5);
    assert.equal(sample(text, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' }), 35);
    assert.equal(sample(text, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'to_client' }), 35);
    assert.equal(sample(text, 'weir_stream_upstream_connect_duration_seconds_count', { route: 'plain', node }), 5);
    assert.equal(sample(text, 'weir_stream_upstream_connect_duration_seconds_bucket', { route: 'plain', node, le: '+Inf' }), 5);
    assert.equal(sample(text, 'weir_stream_active_connections', { route: 'plain' }), 0);
  });

  it('counts bytes while a connection is still open, and shows it as active', async () => {
    const before = await metrics();
    const node = `127.0.0.1:${up.port}`;
    const base = sample(before, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' }) ?? 0;
    const sock = await connect(port.plain!);
    sock.write('x'.repeat(1000));
    await readUntil(sock, (d) => d.length >= 1000);
    const during = await metrics();
    assert.equal(sample(during, 'weir_stream_active_connections', { route: 'plain' }), 1);
    assert.equal(sample(during, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' }), base + 1000);
    assert.equal(sample(during, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'to_client' }), base + 1000);
    sock.write('y'.repeat(500));
    await readUntil(sock, (d) => d.length >= 500);
    assert.equal(sample(await metrics(), 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' }), base + 1500);
    const connections = sample(during, 'apisix_stream_connection_total', { route: 'plain' })!;
    sock.end();
    await waitFor(() => w.access.filter((r) => r.route === 'plain').length === connections + 1);
    const afterText = await metrics();
    assert.equal(sample(afterText, 'weir_stream_active_connections', { route: 'plain' }), 0);
    assert.equal(sample(afterText, 'apisix_stream_connection_total', { route: 'plain' }), connections + 1);
    assert.equal(sample(afterText, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' }), base + 1500, 'the final count equals the live one');
  });

  it('prefer_name labels the route by its name; a route without the plugin has no series', async () => {
    await exchange(port.named!, 'abc');
    await exchange(port.unmetered!, 'abc');
    await waitFor(() => w.access.some((r) => r.route === 'named') && w.access.some((r) => r.route === 'unmetered'));
    const text = await metrics();
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'db' }), 1);
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'named' }), undefined);
    assert.equal(text.includes('"unmetered"'), false);
  });

  it('connect failures by reason and node; the connection still counts', async () => {
    const { data } = await exchange(port.dead!, 'x');
    assert.equal(data.length, 0);
    await waitFor(() => w.access.some((r) => r.route === 'dead'));
    const text = await metrics();
    const failures = linesOf(text, 'weir_stream_connect_failures_total').filter((l) => l.includes('route="dead"'));
    assert.equal(failures.length, 1);
    assert.match(failures[0]!, /reason="refused"\} 1$/);
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'dead' }), 1);
  });

  it('a plugin refusal counts by code (mqtt-proxy: 503), and as a connection as APISIX does', async () => {
    await exchange(port.mqtt!, 'mmm');
    await waitFor(() => w.access.some((r) => r.route === 'mqtt'));
    const text = await metrics();
    assert.equal(sample(text, 'weir_stream_rejections_total', { route: 'mqtt', code: '503' }), 1);
    assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'mqtt' }), 1);
  });

  it('no route and TLS failures per listener', async () => {
    const before = w.access.length;
    await exchange(port.noroute!, 'x');
    await exchange(port.tls!, 'GET / HTTP/1.0\r\n\r\n');
    await waitFor(() => w.access.length >= before + 2);
    const text = await metrics();
    assert.equal(sample(text, 'weir_stream_no_route_total', { listener: `127.0.0.1:${port.noroute}`, protocol: 'tcp' }), 1);
    assert.equal(sample(text, 'weir_stream_tls_handshake_failures_total', { listener: `127.0.0.1:${port.tls}`, reason: 'not_tls' }), 1);
  });

  it('UDP: an open session is active and its bytes show; it counts as a connection when it ends', async () => {
    const client = await udpClient();
    try {
      client.send('ping-1', port.udp!);
      await client.waitReplies(1);
      client.send('ping-22', port.udp!);
      await client.waitReplies(2);
      const text = await metrics();
      const node = `127.0.0.1:${udpUp.port}`;
      assert.equal(sample(text, 'weir_stream_active_sessions', { route: 'udp' }), 1);
      assert.equal(sample(text, 'weir_stream_bytes_total', { route: 'udp', node, direction: 'from_client' }), 13);
      assert.equal(sample(text, 'weir_stream_bytes_total', { route: 'udp', node, direction: 'to_client' }), 13);
      assert.equal(sample(text, 'apisix_stream_connection_total', { route: 'udp' }), 0);
    } finally {
      await client.close();
    }
  });

  it('health per node from the checkers (apisix_upstream_status), and this node\'s info', async () => {
    const deadPort = await freePort();
    const put = await w.admin('PUT', '/apisix/admin/upstreams/checked', {
      nodes: { [`127.0.0.1:${up.port}`]: 1, [`127.0.0.1:${deadPort}`]: 1 },
      checks: { active: { type: 'tcp', timeout: 1, healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } },
    });
    assert.equal(put.status, 201);
    let text = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      text = await metrics();
      if (sample(text, 'apisix_upstream_status', { name: '/apisix/upstreams/checked', ip: '127.0.0.1', port: String(deadPort) }) === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(sample(text, 'apisix_upstream_status', { name: '/apisix/upstreams/checked', ip: '127.0.0.1', port: String(up.port) }), 1);
    assert.equal(sample(text, 'apisix_upstream_status', { name: '/apisix/upstreams/checked', ip: '127.0.0.1', port: String(deadPort) }), 0);
    assert.equal(linesOf(text, 'apisix_node_info').length, 1);
    assert.equal(sample(text, 'weir_stream_workers'), 1);
  });

  it('answers 404 elsewhere, 405 to POST, and HEAD without a body', async () => {
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/metrics`)).status, 404);
    assert.equal((await fetch(`${base}/apisix/prometheus/metrics`, { method: 'POST' })).status, 405);
    const head = await fetch(`${base}/apisix/prometheus/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await head.text(), '');
  });

  it('a DELETEd route and a node taken out of an upstream leave the export; live routes and nodes keep their counts', async () => {
    const other = await startEchoServer();
    try {
      const nodeA = `127.0.0.1:${up.port}`;
      const nodeB = `127.0.0.1:${other.port}`;
      const two = (nodes: Record<string, number>) => ({ server_port: port.two, plugins: { prometheus: {} }, upstream: { type: 'roundrobin', nodes } });
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/gone', { server_port: port.gone, plugins: { prometheus: {} }, upstream: { nodes: { [nodeA]: 1 } } })).status, 201);
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/two', two({ [nodeA]: 1, [nodeB]: 1 }))).status, 201);
      for (let i = 0; i < 2; i++) await exchange(port.gone!, 'gone');
      for (let i = 0; i < 4; i++) await exchange(port.two!, 'abc');
      await waitFor(() => w.access.filter((r) => r.route === 'gone').length === 2 && w.access.filter((r) => r.route === 'two').length === 4);
      const before = await metrics();
      assert.equal(sample(before, 'apisix_stream_connection_total', { route: 'gone' }), 2);
      assert.equal(sample(before, 'weir_stream_bytes_total', { route: 'gone', node: nodeA, direction: 'from_client' }), 8);
      assert.equal(sample(before, 'weir_stream_bytes_total', { route: 'two', node: nodeA, direction: 'from_client' }), 6);
      assert.equal(sample(before, 'weir_stream_bytes_total', { route: 'two', node: nodeB, direction: 'from_client' }), 6);
      const plain = sample(before, 'apisix_stream_connection_total', { route: 'plain' });
      const plainBytes = sample(before, 'weir_stream_bytes_total', { route: 'plain', node: nodeA, direction: 'from_client' });
      assert.ok(plain !== undefined && plain > 0);

      assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/gone')).status, 200);
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/two', two({ [nodeA]: 1 }))).status, 200);
      const after = await metrics();
      assert.deepEqual(after.split('\n').filter((l) => l.includes('route="gone"')), [], 'no series of the deleted route');
      assert.deepEqual(after.split('\n').filter((l) => l.includes(`node="${nodeB}"`)), [], 'no series of the removed node');
      assert.equal(sample(after, 'apisix_stream_connection_total', { route: 'two' }), 4, 'the changed route keeps its count');
      assert.equal(sample(after, 'weir_stream_bytes_total', { route: 'two', node: nodeA, direction: 'from_client' }), 6);
      assert.equal(sample(after, 'apisix_stream_connection_total', { route: 'plain' }), plain);
      assert.equal(sample(after, 'weir_stream_bytes_total', { route: 'plain', node: nodeA, direction: 'from_client' }), plainBytes);
      // the route made again under the same id starts from zero, and counts on
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/gone', { server_port: port.gone, plugins: { prometheus: {} }, upstream: { nodes: { [nodeA]: 1 } } })).status, 201);
      await exchange(port.gone!, 'again');
      await waitFor(() => w.access.filter((r) => r.route === 'gone').length === 3);
      assert.equal(sample(await metrics(), 'apisix_stream_connection_total', { route: 'gone' }), 1);
    } finally {
      await other.close();
    }
  });

  const promtool = missingServers('promtool');
  it('promtool check metrics passes on the exposition', { skip: promtool ?? false }, async () => {
    const text = await metrics();
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 20_000 });
    const out: string[] = [];
    child.stdout!.on('data', (d) => out.push(String(d)));
    child.stderr!.on('data', (d) => out.push(String(d)));
    child.stdin!.end(text);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(out.join(''), '');
    assert.equal(code, 0);
  });

  const prom = missingServers('prometheus');
  describe('a real Prometheus server scraping weir', { skip: prom ?? false }, () => {
    let server: PrometheusServer;
    const dir = tempDir('weir-prom-');
    before(async () => {
      server = await startPrometheus(await freePort(), `127.0.0.1:${metricsPort}`, '/apisix/prometheus/metrics', dir.path);
    });
    after(() => {
      server?.stop();
      dir.remove();
    });

    it('PromQL through its HTTP API returns the per-route byte and connection counts', async () => {
      const text = await metrics();
      const node = `127.0.0.1:${up.port}`;
      const connections = sample(text, 'apisix_stream_connection_total', { route: 'plain' })!;
      const fromClient = sample(text, 'weir_stream_bytes_total', { route: 'plain', node, direction: 'from_client' })!;
      // ten more connections of 100 bytes each
      for (let i = 0; i < 10; i++) await exchange(port.plain!, 'z'.repeat(100));
      await waitFor(() => w.access.filter((r) => r.route === 'plain').length === connections + 10);
      const want = { connections: connections + 10, bytes: fromClient + 1000 };
      let got = { connections: -1, bytes: -1 };
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const c = await server.query('apisix_stream_connection_total{route="plain"}');
        const b = await server.query('sum by (route) (weir_stream_bytes_total{route="plain",direction="from_client"})');
        got = { connections: c[0]?.value ?? -1, bytes: b[0]?.value ?? -1 };
        if (got.connections === want.connections && got.bytes === want.bytes) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.deepEqual(got, want);
      const up1 = await server.query('up{job="weir"}');
      assert.equal(up1[0]?.value, 1, 'the scrape target is up');
    });
  });
});
