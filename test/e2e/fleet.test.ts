// Fleet mode against a real etcd (issue 18): a weir data plane follows etcdctl puts and deletes, keeps serving
// through an outage and a restart during one, resyncs after compaction and after etcd is wiped, and works with a
// read-only etcd user. Each block starts its own etcd on free loopback ports and kills it by pid.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWeir, type Weir } from '../../src/cli/start';
import { AccessLog } from '../../src/log/logger';
import { DOC_KEY, adminCall, tempDir } from '../helpers/weir';
import { exchange, freePort, startEchoServer, type TestServer } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { startEtcd, type EtcdServer } from '../helpers/etcd';
import { startRelay, type Relay } from '../helpers/relay';

const skip = missingServers('etcd', 'etcdctl') ?? false;

interface Plane {
  weir: Weir;
  port: number;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

function dataPlaneYaml(o: { port: number; adminPort: number; dbPath: string; etcd: string; user?: string; password?: string; role?: string; statusPort?: number }): string {
  const role = o.role ?? 'data_plane';
  return [
    'apisix:',
    '  stream_proxy:',
    `    tcp: ["127.0.0.1:${o.port}"]`,
    ...(o.statusPort ? [`  status: {ip: 127.0.0.1, port: ${o.statusPort}}`] : []),
    'deployment:',
    `  role: ${role}`,
    `  role_${role}: {config_provider: etcd}`,
    '  etcd:',
    `    host: ["${o.etcd}"]`,
    '    prefix: /apisix',
    '    timeout: 2',
    '    watch_timeout: 3',
    ...(o.user ? [`    user: ${o.user}`, `    password: ${o.password}`] : []),
    '  admin:',
    `    admin_key: [{name: admin, key: ${DOC_KEY}, role: admin}]`,
    `    admin_listen: {ip: 127.0.0.1, port: ${o.adminPort}}`,
    `  sqlite: {path: ${JSON.stringify(o.dbPath)}}`,
    'nginx_config:',
    '  worker_shutdown_timeout: 1s',
    '  stream: {enable_access_log: false}',
  ].join('\n');
}

/** A data plane on fixed ports (so a restart keeps them), its SQLite file in `dir`. */
async function startPlane(
  dir: string,
  etcdUrl: string,
  ports?: { port: number; adminPort: number },
  auth?: { user: string; password: string },
  role = 'data_plane',
): Promise<Plane> {
  const port = ports?.port ?? (await freePort());
  const adminPort = ports?.adminPort ?? (await freePort());
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, dataPlaneYaml({ port, adminPort, dbPath: join(dir, 'weir.db'), etcd: etcdUrl, role, ...auth }));
  const weir = await startWeir({ configPath, accessLog: new AccessLog({ disabled: true }) });
  const base = `http://127.0.0.1:${adminPort}`;
  return { weir, port, admin: (m, p, b) => adminCall(base, m, p, b) };
}

/** True when a connection through weir gets `tag` + payload back from the echo upstream. */
async function reaches(port: number, tag: string): Promise<boolean> {
  const { data } = await exchange(port, 'ping', { timeoutMs: 1000 });
  return data.toString() === `${tag}ping`;
}

/** Poll `cond` every 25 ms up to `ms`; returns the time it took (throws when it never held). */
async function within(ms: number, what: string, cond: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const upstreamJson = (port: number): string => JSON.stringify({ nodes: { [`127.0.0.1:${port}`]: 1 }, type: 'roundrobin' });
const routeJson = (upstreamId: string, serverPort?: number): string => JSON.stringify({ upstream_id: upstreamId, ...(serverPort ? { server_port: serverPort } : {}) });

/** A client opening 100 connections a second to `port`, counting the ones not echoed by an upstream tagged `tags`. */
function steadyClient(port: number, ...tags: string[]): { stop(): Promise<{ ok: number; failed: number }> } {
  let ok = 0;
  let failed = 0;
  let running = true;
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    if (!running) return;
    const p = exchange(port, 'ping', { timeoutMs: 1000 }).then(
      ({ data }) => void (tags.some((tag) => data.toString() === `${tag}ping`) ? ok++ : failed++),
      () => void failed++,
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }, 10);
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await Promise.all(inflight);
      return { ok, failed };
    },
  };
}

describe('fleet data plane: before its first sync', () => {
  const dir = tempDir('weir-fleet-');
  let plane: Plane;
  let statusPort: number;

  before(async () => {
    statusPort = await freePort();
    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const configPath = join(dir.path, 'config.yaml');
    const [port, adminPort] = [await freePort(), await freePort()];
    writeFileSync(configPath, dataPlaneYaml({ port, adminPort, statusPort, dbPath: join(dir.path, 'weir.db'), etcd: dead }));
    const weir = await startWeir({ configPath, accessLog: new AccessLog({ disabled: true }) });
    plane = { weir, port, admin: (m, p, b) => adminCall(`http://127.0.0.1:${adminPort}`, m, p, b) };
  });
  after(async () => {
    await plane?.weir.stop(0);
    dir.remove();
  });

  it('is not ready (503) on the admin and the apisix.status listeners while no etcd copy exists', async () => {
    const ready = await fetch(`http://127.0.0.1:${statusPort}/status/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'error', error: 'no configuration synced from etcd yet' });
    assert.equal((await fetch(`http://127.0.0.1:${statusPort}/status`)).status, 200);
    assert.equal((await plane.admin('GET', '/status/ready')).status, 503);
    await within(5000, 'first error recorded', async () => (await plane.admin('GET', '/v1/fleet')).body.last_error !== null);
    const fleet = (await plane.admin('GET', '/v1/fleet')).body;
    assert.match(fleet.last_error, /^ERR_ETCD_UNAVAILABLE: http:\/\/127\.0\.0\.1:\d+\/version: .*ECONNREFUSED/);
    assert.equal(fleet.last_full_sync, null);
    assert.equal(typeof fleet.stale_since, 'string');
  });

  it('answers reads and refuses writes with 403 whether or not etcd answers', async () => {
    assert.deepEqual((await plane.admin('GET', '/apisix/admin/upstreams')).body, { list: [], total: 0 });
    const put = await plane.admin('PUT', '/apisix/admin/upstreams/1', { nodes: { '127.0.0.1:1': 1 } });
    assert.deepEqual(put, {
      status: 403,
      body: { error_msg: 'configuration is managed by etcd (deployment.role: data_plane); change it through the control plane or etcd' },
    });
  });
});

describe('fleet data plane: etcdctl put and del', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let echo: TestServer;
  let plane: Plane;

  before(async () => {
    etcd = await startEtcd(dir.path);
    echo = await startEchoServer('A:');
    etcd.ctl('put', '/apisix/upstreams/', 'init_dir'); // APISIX's placeholders and gen_id are skipped
    etcd.ctl('put', '/apisix/gen_id', '3');
    etcd.ctl('put', '/apisix/routes/1', '{"uri":"/"}');
    plane = await startPlane(dir.path, etcd.url);
    await within(5000, 'first full load', async () => (await plane.admin('GET', '/status/ready')).status === 200);
  });
  after(async () => {
    await plane?.weir.stop(0);
    etcd?.kill();
    await echo?.close();
    dir.remove();
  });

  it('an upstream and a stream route put with etcdctl make a connection work within 1 s', async () => {
    assert.equal(await reaches(plane.port, 'A:'), false);
    const start = Date.now();
    etcd.ctl('put', '/apisix/upstreams/1', upstreamJson(echo.port));
    etcd.ctl('put', '/apisix/stream_routes/1', routeJson('1'));
    await within(5000, 'route from etcd', () => reaches(plane.port, 'A:'));
    assert.ok(Date.now() - start <= 1000, `took ${Date.now() - start} ms`);
  });

  it('the Admin API reads show the origin and etcd mod_revision, and refuses writes with 403', async () => {
    const got = await plane.admin('GET', '/apisix/admin/stream_routes/1');
    assert.equal(got.status, 200);
    assert.equal(got.body.origin, 'etcd');
    assert.deepEqual(got.body.value, { id: '1', upstream_id: '1' });
    assert.equal(got.body.modifiedIndex, Number(JSON.parse(etcd.ctl('get', '/apisix/stream_routes/1', '-w', 'json')).kvs[0].mod_revision));
    const list = await plane.admin('GET', '/apisix/admin/upstreams');
    assert.deepEqual(list.body.list.map((o: { key: string; origin: string }) => [o.key, o.origin]), [['/apisix/upstreams/1', 'etcd']]);
    for (const [method, path] of [['PUT', '/apisix/admin/upstreams/2'], ['POST', '/apisix/admin/upstreams'], ['PATCH', '/apisix/admin/upstreams/1'], ['DELETE', '/apisix/admin/upstreams/1']] as const) {
      const res = await plane.admin(method, path, method === 'DELETE' ? undefined : { nodes: { '127.0.0.1:1': 1 } });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(res.body.error_msg, /^configuration is managed by etcd \(deployment.role: data_plane\)/);
    }
  });

  it('GET /v1/fleet shows the sync state', async () => {
    const { status, body } = await plane.admin('GET', '/v1/fleet');
    assert.equal(status, 200);
    assert.equal(body.role, 'data_plane');
    assert.deepEqual(body.endpoints, [etcd.url]);
    assert.equal(body.last_error, null);
    assert.equal(body.stale_since, null);
    assert.equal(typeof body.last_full_sync, 'string');
    assert.ok(body.revision >= 5);
  });

  it('etcdctl del stops the route within 1 s', async () => {
    const start = Date.now();
    etcd.ctl('del', '/apisix/stream_routes/1');
    await within(5000, 'route gone', async () => !(await reaches(plane.port, 'A:')));
    assert.ok(Date.now() - start <= 1000, `took ${Date.now() - start} ms`);
    assert.equal((await plane.admin('GET', '/apisix/admin/stream_routes/1')).status, 404);
  });

  it('an invalid value keeps the last valid copy', async () => {
    etcd.ctl('put', '/apisix/stream_routes/2', routeJson('1'));
    await within(5000, 'route 2', () => reaches(plane.port, 'A:'));
    etcd.ctl('put', '/apisix/stream_routes/2', '{"upstream_id":"1","no_such_field":true}');
    etcd.ctl('put', '/apisix/stream_routes/3', 'not json');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await reaches(plane.port, 'A:'), true);
    assert.equal((await plane.admin('GET', '/apisix/admin/stream_routes/3')).status, 404);
  });
});

describe('fleet data plane: etcd outage and a restart during it', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let echoA: TestServer;
  let echoB: TestServer;
  let plane: Plane;
  let ports: { port: number; adminPort: number };

  before(async () => {
    etcd = await startEtcd(dir.path);
    echoA = await startEchoServer('A:');
    echoB = await startEchoServer('B:');
    ports = { port: await freePort(), adminPort: await freePort() };
    etcd.ctl('put', '/apisix/upstreams/a', upstreamJson(echoA.port));
    etcd.ctl('put', '/apisix/stream_routes/a', routeJson('a'));
    plane = await startPlane(dir.path, etcd.url, ports);
    await within(5000, 'first load', () => reaches(ports.port, 'A:'));
  });
  after(async () => {
    await plane?.weir.stop(0);
    etcd?.kill();
    await echoA?.close();
    await echoB?.close();
    dir.remove();
  });

  it('keeps proxying while etcd is down, and after a restart of weir during the outage', async () => {
    const client = steadyClient(ports.port, 'A:');
    await etcd.stop();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await reaches(ports.port, 'A:'), true);
    const fleet = (await plane.admin('GET', '/v1/fleet')).body;
    assert.notEqual(fleet.last_error, null);
    assert.equal(typeof fleet.stale_since, 'string');
    const beforeRestart = await client.stop();
    assert.equal(beforeRestart.failed, 0);

    await plane.weir.stop(0);
    plane = await startPlane(dir.path, etcd.url, ports);
    // from SQLite at once, ready because the file was synced before
    assert.equal(await reaches(ports.port, 'A:'), true);
    assert.equal((await plane.admin('GET', '/status/ready')).status, 200);
    const again = steadyClient(ports.port, 'A:', 'B:');

    await etcd.restart();
    etcd.ctl('put', '/apisix/upstreams/b', upstreamJson(echoB.port));
    etcd.ctl('put', '/apisix/stream_routes/a', routeJson('b'));
    await within(5000, 'change after etcd came back', () => reaches(ports.port, 'B:'));
    const during = await again.stop();
    // connections opened before the switch echo A:, after it B:; none may fail
    assert.equal(during.failed, 0);
    assert.ok(during.ok > 50, `only ${during.ok} connections`);
  });
});

describe('fleet data plane: compaction past its revision while disconnected', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let relay: Relay;
  let echoA: TestServer;
  let echoB: TestServer;
  let plane: Plane;
  let stablePort: number;

  before(async () => {
    etcd = await startEtcd(dir.path);
    relay = await startRelay(etcd.port);
    echoA = await startEchoServer('A:');
    echoB = await startEchoServer('B:');
    plane = await startPlane(dir.path, `http://127.0.0.1:${relay.port}`);
    stablePort = plane.port;
    etcd.ctl('put', '/apisix/upstreams/a', upstreamJson(echoA.port));
    etcd.ctl('put', '/apisix/stream_routes/old', routeJson('a'));
    await within(5000, 'old route', () => reaches(stablePort, 'A:'));
  });
  after(async () => {
    await plane?.weir.stop(0);
    await relay?.close();
    etcd?.kill();
    await echoA?.close();
    await echoB?.close();
    dir.remove();
  });

  it('resyncs in full: the new route works and the deleted one is gone', async () => {
    const client = steadyClient(stablePort, 'A:', 'B:');
    relay.pause();
    await new Promise((r) => setTimeout(r, 300));
    etcd.ctl('del', '/apisix/stream_routes/old');
    etcd.ctl('put', '/apisix/upstreams/b', upstreamJson(echoB.port));
    etcd.ctl('put', '/apisix/stream_routes/new', routeJson('b'));
    etcd.ctl('compact', String(etcd.revision()));
    assert.equal(await reaches(stablePort, 'A:'), true); // still the old copy
    const fullLoads = (await plane.admin('GET', '/v1/fleet')).body.last_full_sync;
    relay.resume();
    await within(5000, 'new route after resync', () => reaches(stablePort, 'B:'));
    const steady = await client.stop();
    assert.equal(steady.failed, 0);
    assert.equal((await plane.admin('GET', '/apisix/admin/stream_routes/old')).status, 404);
    assert.notEqual((await plane.admin('GET', '/v1/fleet')).body.last_full_sync, fullLoads);
  });
});

describe('fleet data plane: etcd wiped and refilled', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let relay: Relay;
  let echoA: TestServer;
  let echoB: TestServer;
  let plane: Plane;

  before(async () => {
    etcd = await startEtcd(dir.path);
    relay = await startRelay(etcd.port);
    echoA = await startEchoServer('A:');
    echoB = await startEchoServer('B:');
    for (let i = 0; i < 20; i++) etcd.ctl('put', `/apisix/upstreams/pad${i}`, upstreamJson(echoA.port)); // a revision the new etcd will not reach
    etcd.ctl('put', '/apisix/upstreams/a', upstreamJson(echoA.port));
    etcd.ctl('put', '/apisix/stream_routes/a', routeJson('a'));
    plane = await startPlane(dir.path, `http://127.0.0.1:${relay.port}`);
    await within(5000, 'first load', () => reaches(plane.port, 'A:'));
  });
  after(async () => {
    await plane?.weir.stop(0);
    await relay?.close();
    etcd?.kill();
    await echoA?.close();
    await echoB?.close();
    dir.remove();
  });

  it('loads the new content in full (revision back, new cluster id), serving all along', async () => {
    const client = steadyClient(plane.port, 'A:', 'B:');
    relay.pause(); // the wipe and refill happen while weir cannot see etcd, so it resyncs straight to the new content
    await etcd.wipe();
    etcd.ctl('put', '/apisix/upstreams/b', upstreamJson(echoB.port));
    etcd.ctl('put', '/apisix/stream_routes/b', routeJson('b'));
    relay.resume();
    await within(8000, 'new content', () => reaches(plane.port, 'B:'));
    const steady = await client.stop();
    assert.equal(steady.failed, 0);
    assert.equal((await plane.admin('GET', '/apisix/admin/stream_routes/a')).status, 404);
    assert.deepEqual((await plane.admin('GET', '/apisix/admin/upstreams')).body.list.map((o: { key: string }) => o.key), ['/apisix/upstreams/b']);
  });
});

describe('fleet data plane: etcd auth with a read-only role', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let echo: TestServer;
  let plane: Plane;
  const root = ['--user', 'root:rootpw'];

  before(async () => {
    etcd = await startEtcd(dir.path);
    echo = await startEchoServer('A:');
    etcd.ctl('user', 'add', 'root:rootpw');
    etcd.ctl('role', 'add', 'weir-ro');
    etcd.ctl('role', 'grant-permission', 'weir-ro', '--prefix=true', 'read', '/apisix/');
    etcd.ctl('user', 'add', 'dp:dppw');
    etcd.ctl('user', 'grant-role', 'dp', 'weir-ro');
    etcd.ctl('auth', 'enable');
    etcd.ctl(...root, 'put', '/apisix/upstreams/1', upstreamJson(echo.port));
    etcd.ctl(...root, 'put', '/apisix/stream_routes/1', routeJson('1'));
    plane = await startPlane(dir.path, etcd.url, undefined, { user: 'dp', password: 'dppw' });
  });
  after(async () => {
    await plane?.weir.stop(0);
    etcd?.kill();
    await echo?.close();
    dir.remove();
  });

  it('syncs with user and password and never writes', async () => {
    await within(5000, 'route with auth', () => reaches(plane.port, 'A:'));
    const rev = etcd.revision();
    etcd.ctl(...root, 'put', '/apisix/stream_routes/1', routeJson('1', plane.port));
    await within(5000, 'watch with auth', async () => (await plane.admin('GET', '/v1/fleet')).body.revision === rev + 1);
    assert.equal((await plane.admin('GET', '/v1/fleet')).body.last_error, null);
    await new Promise((r) => setTimeout(r, 300));
    // nothing but the test's own put moved the revision: the data plane wrote nothing
    assert.equal(etcd.revision(), rev + 1);
    assert.throws(() => etcd.ctl('--user', 'dp:dppw', 'put', '/apisix/x', '1'), /permission denied/);
  });
});

describe('fleet control plane: two data planes and one control plane share one etcd', { skip }, () => {
  const dir = tempDir('weir-fleet-');
  let etcd: EtcdServer;
  let echoA: TestServer;
  let echoB: TestServer;
  let cp: Plane;
  const dps: Plane[] = [];

  before(async () => {
    etcd = await startEtcd(dir.path);
    echoA = await startEchoServer('A:');
    echoB = await startEchoServer('B:');
    for (const name of ['dp1', 'dp2', 'cp']) mkdirSync(join(dir.path, name));
    cp = await startPlane(join(dir.path, 'cp'), etcd.url, undefined, undefined, 'control_plane');
    dps.push(await startPlane(join(dir.path, 'dp1'), etcd.url), await startPlane(join(dir.path, 'dp2'), etcd.url));
    for (const p of [cp, ...dps]) await within(5000, 'ready', async () => (await p.admin('GET', '/status/ready')).status === 200);
  });
  after(async () => {
    for (const p of [cp, ...dps]) await p?.weir.stop(0);
    etcd?.kill();
    await echoA?.close();
    await echoB?.close();
    dir.remove();
  });

  it('a PUT to the control plane reaches both data planes within 1 s, with the same answer as a local write', async () => {
    const put = await cp.admin('PUT', '/apisix/admin/upstreams/1', { nodes: { [`127.0.0.1:${echoA.port}`]: 1 }, type: 'roundrobin' });
    assert.equal(put.status, 201);
    assert.equal(put.body.key, '/apisix/upstreams/1');
    assert.equal(typeof put.body.value.create_time, 'number');
    const start = Date.now();
    const route = await cp.admin('PUT', '/apisix/admin/stream_routes/1', { upstream_id: '1' });
    assert.equal(route.status, 201);
    await Promise.all(dps.map((dp) => within(5000, 'route on a data plane', () => reaches(dp.port, 'A:'))));
    assert.ok(Date.now() - start <= 1000, `took ${Date.now() - start} ms`);
    // the control plane serves its own traffic from its copy, and reads its write at once
    assert.equal(await reaches(cp.port, 'A:'), true);
    const got = await cp.admin('GET', '/apisix/admin/stream_routes/1');
    assert.equal(got.body.origin, 'etcd');
    assert.deepEqual(JSON.parse(etcd.ctl('get', '/apisix/stream_routes/1', '--print-value-only')), got.body.value);
  });

  it('POST ids are etcd revisions of gen_id, 20 digits, as APISIX makes them', async () => {
    const post = await cp.admin('POST', '/apisix/admin/upstreams', { nodes: { [`127.0.0.1:${echoB.port}`]: 1 } });
    assert.equal(post.status, 201);
    const genRev = Number(JSON.parse(etcd.ctl('get', '/apisix/gen_id', '-w', 'json')).kvs[0].mod_revision);
    assert.equal(post.body.value.id, String(genRev).padStart(20, '0'));
  });

  it('PATCH is a compare-and-swap: concurrent PATCHes answer 200 or 409, never a lost update', async () => {
    const descs = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const answers = await Promise.all(descs.map((desc) => cp.admin('PATCH', '/apisix/admin/upstreams/1', { desc })));
    const won = descs.filter((_, i) => answers[i]!.status === 200);
    for (const a of answers) {
      assert.ok(a.status === 200 || a.status === 409, `status ${a.status}`);
      if (a.status === 409) assert.match(a.body.error_msg, /^upstreams\/1 was changed by another writer/);
    }
    assert.ok(won.length >= 1);
    // the stored value is one that was answered 200 (a 409 never reached etcd)
    assert.ok(won.includes(JSON.parse(etcd.ctl('get', '/apisix/upstreams/1', '--print-value-only')).desc));
    // a change made with etcdctl is read before the next PATCH, which applies on top of it
    etcd.ctl('put', '/apisix/upstreams/1', JSON.stringify({ nodes: { [`127.0.0.1:${echoA.port}`]: 1 }, desc: 'etcdctl', labels: { by: 'etcdctl' } }));
    const patched = await cp.admin('PATCH', '/apisix/admin/upstreams/1', { desc: 'patched' });
    assert.equal(patched.status, 200);
    assert.deepEqual(JSON.parse(etcd.ctl('get', '/apisix/upstreams/1', '--print-value-only')).labels, { by: 'etcdctl' });
  });

  it('reference checks read etcd: an upstream used by a route written with etcdctl cannot be deleted', async () => {
    etcd.ctl('put', '/apisix/stream_routes/9', JSON.stringify({ upstream_id: '1', server_port: 1 }));
    const del = await cp.admin('DELETE', '/apisix/admin/upstreams/1');
    assert.equal(del.status, 400);
    assert.match(del.body.error_msg, /can not delete this upstream/);
    assert.equal((await cp.admin('PUT', '/apisix/admin/stream_routes/2', { upstream_id: 'missing' })).status, 400);
  });

  it('private keys are stored in APISIX\'s at-rest format', async () => {
    const fix = join(import.meta.dirname, '..', 'fixtures', 'tls');
    const cert = readFileSync(join(fix, 'a.test.com.crt'), 'utf8');
    const key = readFileSync(join(fix, 'a.test.com.key'), 'utf8');
    const put = await cp.admin('PUT', '/apisix/admin/ssls/1', { cert, key, snis: ['a.test.com'] });
    assert.equal(put.status, 201);
    const stored = JSON.parse(etcd.ctl('get', '/apisix/ssls/1', '--print-value-only'));
    assert.equal(stored.key, readFileSync(join(import.meta.dirname, '..', 'fixtures', 'fleet', 'a.test.com.key.apisix-aes128'), 'utf8'));
    await within(5000, 'ssl on a data plane', async () => (await dps[0]!.admin('GET', '/apisix/admin/ssls/1')).status === 200);
  });
});
