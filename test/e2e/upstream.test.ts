// The upstream engine end to end: a node killed mid-run is marked down by active and (separately) by
// passive checks with zero failed client connections, comes back when restarted; retries under a
// refusing node; the /v1/healthcheck status endpoint.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configureErrorLog } from '../../src/log/logger';
import { exchange, freePort, startEchoServer, type TestServer } from '../helpers/net';
import { adminCall, startTestWeir, waitFor, type TestWeir } from '../helpers/weir';

/** Error-log lines, captured for the whole file. */
const logs: string[] = [];
configureErrorLog({ sink: (t) => logs.push(t) });
after(() => configureErrorLog({ sink: (t) => process.stderr.write(t) }));
const connectFailures = (port: number) => logs.filter((l) => l.includes('connect() failed') && l.includes(`:${port} `)).length;

describe('upstream engine end to end', () => {
  let w: TestWeir;
  let listen: number;
  let a: TestServer;
  const servers: TestServer[] = [];

  before(async () => {
    a = await startEchoServer('A:');
    listen = await freePort();
    w = await startTestWeir([`"127.0.0.1:${listen}"`]);
  });
  after(async () => {
    await w?.stop();
    await a?.close();
    for (const s of servers) await s.close();
  });

  /** `n` sequential client connections; returns the tag each got back ('' = failed). */
  async function clients(n: number): Promise<string[]> {
    const tags: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await exchange(listen, 'ping', { timeoutMs: 10_000 });
      tags.push(r.data.toString() === 'A:ping' ? 'A' : r.data.toString() === 'B:ping' ? 'B' : '');
    }
    return tags;
  }

  async function nodeStatus(upstreamId: string, port: number): Promise<string | undefined> {
    const r = await w.admin('GET', `/v1/healthcheck/upstreams/${upstreamId}`);
    return r.status === 200 ? r.body.nodes.find((n: { port: number }) => n.port === port)?.status : undefined;
  }

  async function setup(id: string, bPort: number, checks: unknown): Promise<void> {
    const up = await w.admin('PUT', `/apisix/admin/upstreams/${id}`, {
      type: 'roundrobin', nodes: { [`127.0.0.1:${a.port}`]: 1, [`127.0.0.1:${bPort}`]: 1 }, timeout: { connect: 1, send: 10, read: 10 }, checks,
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const route = await w.admin('PUT', '/apisix/admin/stream_routes/r', { server_port: listen, upstream_id: id });
    assert.ok(route.status === 200 || route.status === 201);
  }

  async function teardown(id: string): Promise<void> {
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/r')).status, 200);
    assert.equal((await w.admin('DELETE', `/apisix/admin/upstreams/${id}`)).status, 200);
  }

  it('active: a node killed mid-run is marked down, traffic moves with zero failed clients, the restarted node comes back', async () => {
    let b = await startEchoServer('B:');
    servers.push(b);
    const bPort = b.port;
    await setup('act', bPort, { active: { type: 'tcp', healthy: { interval: 1, successes: 1 }, unhealthy: { interval: 1, tcp_failures: 1 } } });
    assert.equal(await nodeStatus('act', bPort), 'healthy');
    assert.deepEqual(new Set(await clients(4)), new Set(['A', 'B']));

    // kill B while clients keep connecting; retries (default nodes - 1) cover the window before the probe
    const during: string[] = [];
    const killed = b.close();
    // bounded by time, not count: the probe runs once a second however fast the clients are
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await nodeStatus('act', bPort)) !== 'unhealthy') {
      during.push(...(await clients(2)));
      await new Promise((r) => setTimeout(r, 10));
    }
    await killed;
    assert.equal(await nodeStatus('act', bPort), 'unhealthy');
    assert.ok(!during.includes(''), `failed clients during the kill: ${during.filter((t) => t === '').length}`);

    // marked down: B is no longer even tried
    const failuresBefore = connectFailures(bPort);
    assert.deepEqual(await clients(10), Array(10).fill('A'));
    assert.equal(connectFailures(bPort), failuresBefore);

    b = await startEchoServer('B:', bPort); // back on the address weir knows
    servers.push(b);
    for (let i = 0; i < 500 && (await nodeStatus('act', bPort)) !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await nodeStatus('act', bPort), 'healthy');
    assert.ok((await clients(6)).includes('B'), 'traffic reaches the restarted node');
    await teardown('act');
  });

  it('passive: failed connects mark the node down without any active failure, zero failed clients; active brings it back', async () => {
    let b = await startEchoServer('B:');
    servers.push(b);
    const bPort = b.port;
    // healthy nodes are probed only every hour: only passive reports can take B out
    await setup('pas', bPort, {
      active: { type: 'tcp', healthy: { interval: 3600, successes: 1 }, unhealthy: { interval: 1 } },
      passive: { type: 'tcp', unhealthy: { tcp_failures: 1 } },
    });
    assert.deepEqual(new Set(await clients(4)), new Set(['A', 'B']));
    await b.close();
    const tags = await clients(10);
    assert.deepEqual(tags, Array(10).fill('A')); // zero failed clients
    assert.equal(connectFailures(bPort), 1); // exactly one attempt hit the dead node, then it left the rotation
    assert.equal(await nodeStatus('pas', bPort), 'unhealthy');

    b = await startEchoServer('B:', bPort); // back on the address weir knows
    servers.push(b);
    for (let i = 0; i < 500 && (await nodeStatus('pas', bPort)) !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await nodeStatus('pas', bPort), 'healthy');
    assert.ok((await clients(6)).includes('B'));
    await teardown('pas');
  });

  it('retries under a refusing node: every client is served by the live one', async () => {
    const dead = await freePort();
    const up = await w.admin('PUT', '/apisix/admin/upstreams/ret', { nodes: [
      { host: '127.0.0.1', port: dead, weight: 1, priority: 1 }, { host: '127.0.0.1', port: a.port, weight: 1 },
    ] });
    assert.equal(up.status, 201);
    await w.admin('PUT', '/apisix/admin/stream_routes/r', { server_port: listen, upstream_id: 'ret' });
    const before = w.access.length;
    assert.deepEqual(await clients(5), Array(5).fill('A'));
    await waitFor(() => w.access.length >= before + 5, 10_000, 'access records');
    assert.deepEqual(w.access.slice(before).map((r) => r.upstream), Array(5).fill(`127.0.0.1:${a.port}`));
    assert.equal(connectFailures(dead), 5); // no checks: the refusing node is tried first every time
    await teardown('ret');
  });

  it('/v1/healthcheck: APISIX control API shape, key required, per-upstream lookup, gone after delete', async () => {
    await w.admin('PUT', '/apisix/admin/upstreams/hc', { nodes: { [`127.0.0.1:${a.port}`]: 1 }, checks: { active: { type: 'tcp' } } });
    await w.admin('PUT', '/apisix/admin/stream_routes/inline', { server_port: 1, upstream: { nodes: { [`127.0.0.1:${a.port}`]: 2 }, checks: { active: { type: 'tcp' } } } });
    // the first probe runs at the write: once it is back, every node shows it (weir's addition to APISIX's shape)
    let list = await w.admin('GET', '/v1/healthcheck');
    for (let i = 0; i < 500 && list.body.some((c: any) => c.nodes.some((n: any) => n.last_probe === null)); i++) {
      await new Promise((r) => setTimeout(r, 20));
      list = await w.admin('GET', '/v1/healthcheck');
    }
    assert.equal(list.status, 200);
    for (const c of list.body) for (const n of c.nodes) n.last_probe = n.last_probe.ok;
    const node = {
      ip: '127.0.0.1', port: a.port, hostname: '127.0.0.1', status: 'healthy', counter: { success: 0, tcp_failure: 0, timeout_failure: 0, http_failure: 0 },
      last_probe: true,
    };
    assert.deepEqual(list.body, [
      { name: '/apisix/stream_routes/inline', type: 'tcp', nodes: [node] },
      { name: '/apisix/upstreams/hc', type: 'tcp', nodes: [node] },
    ]);
    assert.deepEqual((await w.admin('GET', '/v1/healthcheck/stream_routes/inline')).body.name, list.body[0].name);
    assert.deepEqual(await w.admin('GET', '/v1/healthcheck/upstreams/nope'), { status: 404, body: { error_msg: 'no checker for upstreams[nope]' } });
    assert.deepEqual(await w.admin('GET', '/v1/healthcheck/routes/1'), { status: 400, body: { error_msg: 'invalid src type routes' } });
    const anon = await fetch(`${w.adminUrl}/v1/healthcheck`);
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    assert.equal((await adminCall(w.adminUrl, 'DELETE', '/apisix/admin/upstreams/hc')).status, 200);
    assert.equal((await adminCall(w.adminUrl, 'DELETE', '/apisix/admin/stream_routes/inline')).status, 200);
    assert.deepEqual((await w.admin('GET', '/v1/healthcheck')).body, []);
    assert.equal(w.weir.health.size, 0);
  });
});
