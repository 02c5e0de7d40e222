// The Admin API's inspection views over HTTP: explain (and its place in the router), shadow warnings in write
// answers and in ?warnings=true, and ?dry_run=true with its effects (every worker's connections counted) and an
// untouched database file.

import { NO_HEALTH } from '../../src/health/types';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { buildSnapshot } from '../../src/snapshot/build';
import type { AdminKey } from '../../src/config/types';
import type { InspectSources } from '../../src/inspect/sources';
import type { AskPeers } from '../../src/inspect/worker-tables';
import { AUTO_WARNINGS_MAX_ROUTES } from '../../src/inspect/warnings';
import type { TempStore } from '../objects/fixtures';
import { startAdmin, testConfig, KEYS, VIEWER_KEY, type AdminHarness } from './harness';

const A = '/apisix/admin';

function sources(t: TempStore): { inspect: InspectSources } {
  return {
    inspect: {
      snapshot: () => buildSnapshot(t.store.readAll(), null).snapshot,
      health: NO_HEALTH,
      listeners: () => [
        { protocol: 'tcp', host: '127.0.0.1', port: 9100, tls: null, origin: 'apisix.stream_proxy.tcp[0]' },
        { protocol: 'tcp', host: '0.0.0.0', port: 9443, tls: 'terminate', origin: 'apisix.stream_proxy.tcp[1]' },
        { protocol: 'udp', host: '127.0.0.1', port: 9200, tls: null, origin: 'apisix.stream_proxy.udp[0]' },
      ],
      live: { tcp: null, udp: null },
    },
  };
}

function fileHash(path: string): string {
  const h = createHash('sha256');
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) h.update(readFileSync(p));
  return h.digest('hex');
}

describe('explain over HTTP', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin(testConfig(), KEYS, sources);
    await h.call('PUT', `${A}/upstreams/u1`, { nodes: { '127.0.0.1:1995': 1, '127.0.0.1:1996': 1 }, type: 'roundrobin' });
    await h.call('PUT', `${A}/stream_routes/1`, { server_port: 9101, upstream_id: 'u1' });
    await h.call('PUT', `${A}/stream_routes/2`, { server_port: 9100, remote_addr: '10.0.1.0/24', upstream_id: 'u1' });
    await h.call('PUT', `${A}/stream_routes/3`, { server_port: 9100, upstream: { nodes: { '127.0.0.1:2000': 1 } } });
    await h.call('PUT', `${A}/stream_routes/4`, { sni: '*.a.test.com', upstream_id: 'u1' });
  });
  after(() => h.close());

  it('answers the winning route, its upstream, the next node and the skipped routes', async () => {
    const r = await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9100`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      connection: { protocol: 'tcp', remote_addr: '10.0.0.7', remote_port: 0, server_addr: '127.0.0.1', server_port: 9100, sni: null },
      listener: { addr: 'tcp 127.0.0.1:9100 (apisix.stream_proxy.tcp[0])', tls: null },
      route: { id: '3', upstream: { key: '/apisix/stream_routes/3', scheme: 'tcp', nodes: [{ address: '127.0.0.1:2000', weight: 1, priority: 0 }] }, next_node: '127.0.0.1:2000' },
      skipped: [
        { id: '1', field: 'server_port', reason: 'server_port 9100 ≠ 9101' },
        { id: '2', field: 'remote_addr', reason: 'remote_addr 10.0.0.7 ∉ 10.0.1.0/24' },
      ],
      ssl: null,
      plugins: [],
      outcome: 'proxied',
    });
  });

  it('with an SNI on a TLS listener without a certificate: the handshake would fail', async () => {
    const r = await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9443&sni=x.a.test.com`);
    assert.equal(r.json.route.id, '4');
    assert.equal(r.json.route.upstream_id, 'u1');
    assert.equal(r.json.outcome, 'tls_handshake_failed');
    assert.deepEqual(r.json.notes, ['no SSL object covers sni x.a.test.com']);
  });

  it('no listener, no route', async () => {
    const none = await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9999`);
    assert.deepEqual([none.json.route, none.json.outcome, none.json.skipped.length], [null, 'no_listener', 4]);
    const udp = await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9200&protocol=udp`);
    assert.equal(udp.json.route, null);
    assert.equal(udp.json.outcome, 'no_route');
  });

  it('refuses malformed questions with 400', async () => {
    const cases: Array<[string, string]> = [
      ['server_port=9100', 'missing remote_addr (the client address to explain)'],
      ['remote_addr=10.0.0.7', 'missing server_port (the listener port the client connects to)'],
      ['remote_addr=10.0.0.300&server_port=9100', 'invalid remote_addr: 10.0.0.300'],
      ['remote_addr=10.0.0.7&server_port=0', 'invalid server_port: 0'],
      ['remote_addr=10.0.0.7&server_port=9100&protocol=sctp', 'invalid protocol: sctp (tcp or udp)'],
      ['remote_addr=10.0.0.7&server_port=9200&protocol=udp&sni=a.b', 'sni applies to tcp only (UDP carries no TLS ClientHello)'],
    ];
    for (const [q, msg] of cases) assert.deepEqual(await h.call('GET', `${A}/stream_routes/explain?${q}`).then((r) => [r.status, r.json]), [400, { error_msg: msg }]);
  });

  it('a route with the id "explain" is never hidden: GET without explain parameters is the object, with them the view', async () => {
    const missing = [400, { error_msg: 'missing remote_addr (the client address to explain)' }];
    assert.deepEqual(await h.call('GET', `${A}/stream_routes/explain`).then((r) => [r.status, r.json]), missing, 'no such route: explain says what it needs');
    assert.equal((await h.call('PUT', `${A}/stream_routes/explain`, { server_port: 9999, upstream_id: 'u1' })).status, 201);
    const get = await h.call('GET', `${A}/stream_routes/explain`);
    assert.equal(get.status, 200);
    assert.deepEqual([get.json.key, get.json.value.id, get.json.value.server_port], ['/apisix/stream_routes/explain', 'explain', 9999]);
    // with a parameter it is the view, which may well name the route "explain"
    const view = await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9999`);
    assert.deepEqual([view.status, view.json.route.id, view.json.outcome], [200, 'explain', 'no_listener']);
    // the viewer key reads it too (a scoped key that does not see it: test/admin/scope.test.ts)
    assert.equal((await h.call('GET', `${A}/stream_routes/explain`, undefined, VIEWER_KEY)).json.value.id, 'explain');
    assert.equal((await h.call('DELETE', `${A}/stream_routes/explain`)).status, 200);
    assert.deepEqual(await h.call('GET', `${A}/stream_routes/explain`).then((r) => [r.status, r.json]), missing);
  });

  it('needs a key like the rest of the Admin API', async () => {
    assert.equal((await h.call('GET', `${A}/stream_routes/explain?remote_addr=10.0.0.7&server_port=9100`, undefined, null)).status, 401);
  });

  it('does not move the balancer: explaining twice names the same next node', async () => {
    const q = `${A}/stream_routes/explain?remote_addr=10.0.1.7&server_port=9100`;
    const first = (await h.call('GET', q)).json.route;
    const second = (await h.call('GET', q)).json.route;
    assert.deepEqual([first.id, first.upstream_id, first.next_node], ['2', 'u1', '127.0.0.1:1995']);
    assert.equal(second.next_node, first.next_node);
  });
});

describe('shadow warnings over HTTP', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(() => h.close());
  const up = { nodes: { '127.0.0.1:1995': 1 } };

  it('a write that is shadowed, or shadows, says so; others answer the plain APISIX envelope', async () => {
    const first = await h.call('PUT', `${A}/stream_routes/b`, { server_port: 9100, remote_addr: '10.0.1.0/24', upstream: up });
    assert.deepEqual(Object.keys(first.json).sort(), ['key', 'value']);
    const shadowing = await h.call('PUT', `${A}/stream_routes/a`, { server_port: 9100, remote_addr: '10.0.0.0/16', upstream: up });
    assert.equal(shadowing.status, 201);
    assert.deepEqual(shadowing.json.warnings, [
      {
        route: 'b',
        shadowed_by: 'a',
        message: 'stream route b (server_port 9100, remote_addr 10.0.1.0/24) can never match: route a (server_port 9100, remote_addr 10.0.0.0/16) takes precedence and matches every connection it matches',
      },
    ]);
    const unrelated = await h.call('PUT', `${A}/stream_routes/c`, { server_port: 9101, upstream: up });
    assert.equal(unrelated.json.warnings, undefined);
  });

  it('GET ?warnings=true lists every warning; a plain list has none', async () => {
    const list = await h.call('GET', `${A}/stream_routes?warnings=true`);
    assert.deepEqual(list.json.warnings.map((w: { route: string }) => w.route), ['b']);
    assert.equal(list.json.total, 3);
    assert.equal((await h.call('GET', `${A}/stream_routes`)).json.warnings, undefined);
  });
});

describe('shadow warnings past AUTO_WARNINGS_MAX_ROUTES', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(() => h.close());

  it('a write among more routes than the cap answers without warnings; ?warnings=true still finds them', async () => {
    const up = { nodes: { '127.0.0.1:1995': 1 } };
    // the catch-all first, then the routes it shadows: written straight into the store, as an import would
    for (let i = 0; i <= AUTO_WARNINGS_MAX_ROUTES; i++) {
      const id = `r${String(i).padStart(5, '0')}`;
      h.t.store.put('stream_routes', id, { id, server_port: 9100, remote_addr: `10.${(i >> 8) & 255}.${i & 255}.0/24`, upstream: up });
    }
    const put = await h.call('PUT', `${A}/stream_routes/r00000`, { server_port: 9100, upstream: up });
    assert.equal(put.status, 200);
    assert.deepEqual(Object.keys(put.json).sort(), ['key', 'value']);
    const list = await h.call('GET', `${A}/stream_routes?warnings=true&page_size=1`);
    assert.equal(list.json.warnings.length, AUTO_WARNINGS_MAX_ROUTES);
  });
});

describe('dry runs over HTTP', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin(testConfig(), KEYS, sources);
    await h.call('PUT', `${A}/upstreams/u1`, { nodes: { '127.0.0.1:1995': 1 } });
    await h.call('PUT', `${A}/stream_routes/5`, { server_port: 9100, upstream_id: 'u1' });
  });
  after(() => h.close());

  it('answers the stored object plus effects, and leaves the database file byte for byte', async () => {
    const hash = fileHash(h.t.path);
    const changes = h.changes();
    const r = await h.call('PUT', `${A}/stream_routes/1?dry_run=true`, { server_port: 9100, remote_addr: '10.0.0.0/8', upstream_id: 'u1' });
    assert.equal(r.status, 201);
    assert.equal(r.json.key, '/apisix/stream_routes/1');
    assert.equal(r.json.value.remote_addr, '10.0.0.0/8');
    assert.equal(r.json.dry_run, true);
    assert.deepEqual(r.json.effects, {
      routes: [
        { id: '1', change: 'gains', detail: 'connections route 5 served, e.g. remote_addr 10.0.0.0, server_addr 127.0.0.1, server_port 9100' },
        { id: '5', change: 'loses', detail: 'connections to route 1, e.g. remote_addr 10.0.0.0, server_addr 127.0.0.1, server_port 9100' },
      ],
      connections: 0,
      connection_policy: 'open connections and sessions finish on the configuration they started with',
      broken_references: [],
    });
    assert.equal(fileHash(h.t.path), hash);
    assert.equal(h.changes(), changes);
    assert.equal((await h.call('GET', `${A}/stream_routes/1`)).status, 404);
  });

  it('refuses as the real write does', async () => {
    const r = await h.call('PUT', `${A}/stream_routes/1?dry_run=true`, { upstream_id: 'nope' });
    assert.deepEqual([r.status, r.json], [400, { error_msg: 'failed to fetch upstream info by upstream id [nope], response code: 404' }]);
    const del = await h.call('DELETE', `${A}/upstreams/u1?dry_run=true`);
    assert.deepEqual([del.status, del.json], [400, { error_msg: 'can not delete this upstream, stream_route [5] is still using it now' }]);
  });

  it('a forced delete names the references it breaks and the traffic that would be refused', async () => {
    const hash = fileHash(h.t.path);
    const del = await h.call('DELETE', `${A}/upstreams/u1?force=true&dry_run=true`);
    assert.equal(del.status, 200);
    assert.deepEqual([del.json.deleted, del.json.key, del.json.dry_run], ['1', '/apisix/upstreams/u1', true]);
    assert.deepEqual(del.json.effects.broken_references, [{ from: '/apisix/stream_routes/5', field: 'upstream_id', to: '/apisix/upstreams/u1' }]);
    assert.deepEqual(del.json.effects.routes, []);
    const route = await h.call('DELETE', `${A}/stream_routes/5?dry_run=true`);
    assert.deepEqual(route.json.effects.routes.map((e: { id: string; change: string }) => `${e.id} ${e.change}`), ['5 loses']);
    assert.match(route.json.effects.routes[0].detail, /^connections no route will match \(refused\), e\.g\. /);
    assert.equal(fileHash(h.t.path), hash);
  });

  it('POST and PATCH rehearse too', async () => {
    const post = await h.call('POST', `${A}/upstreams?dry_run=true`, { nodes: { '127.0.0.1:1995': 1 } });
    assert.equal(post.status, 201);
    assert.match(post.json.value.id, /^\d{20}$/);
    const real = await h.call('POST', `${A}/upstreams`, { nodes: { '127.0.0.1:1995': 1 } });
    assert.equal(real.json.value.id, post.json.value.id);
    const patch = await h.call('PATCH', `${A}/stream_routes/5?dry_run=true`, { server_port: 9200 });
    assert.equal(patch.json.value.server_port, 9200);
    assert.deepEqual(patch.json.effects.routes.map((e: { id: string; change: string }) => `${e.id} ${e.change}`).sort(), ['5 gains', '5 loses']);
    assert.equal((await h.call('GET', `${A}/stream_routes/5`)).json.value.server_port, 9100);
  });
});

describe('dry runs over HTTP with several workers', () => {
  const TENANT = 'tenant-a-key-0123456789';
  const keys: AdminKey[] = [...KEYS, { name: 'tenant-a', key: TENANT, role: 'admin', scope: [{ resource: '*', ids: ['tenant-a-*'], methods: ['GET', 'PATCH'] }] }];
  // worker 1 (pid 101) holds connections on two routes; worker 2 (pid 102) does not answer in time
  const asked: Array<[string, unknown]> = [];
  const peers: AskPeers = async (kind, args) => {
    asked.push([kind, args]);
    return [
      { worker: 1, pid: 101, answered: true, body: { pid: 101, byRoute: { 'tenant-a-r': 2, other: 3 } } },
      { worker: 2, pid: 102, answered: false },
    ];
  };
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin(testConfig({ keys }), keys, (t) => ({ inspect: { ...sources(t).inspect, peers } }));
    await h.call('PUT', `${A}/upstreams/tenant-a-u`, { nodes: { '127.0.0.1:1995': 1 } });
    await h.call('PUT', `${A}/stream_routes/tenant-a-r`, { server_port: 9100, upstream_id: 'tenant-a-u' });
    await h.call('PUT', `${A}/stream_routes/other`, { server_port: 9101, upstream_id: 'tenant-a-u' });
  });
  after(() => h.close());

  it('effects.connections adds every worker\'s count; a worker that did not answer is named', async () => {
    asked.length = 0;
    const r = await h.call('PATCH', `${A}/upstreams/tenant-a-u?dry_run=true`, { retries: 0 });
    assert.equal(r.status, 200);
    assert.deepEqual(asked, [['connection-count', { routes: ['other', 'tenant-a-r'], upstreamKeys: ['/apisix/upstreams/tenant-a-u'] }]]);
    // worker 0 has none open (its tables are empty here): 2 + 3 from worker 1
    assert.equal(r.json.effects.connections, 5);
    assert.deepEqual(r.json.unanswered_workers, [{ worker: 2, pid: 102, waited_ms: 2000 }]);
  });

  it('a scoped key: only what it sees is asked about and counted', async () => {
    asked.length = 0;
    const r = await h.call('PATCH', `${A}/upstreams/tenant-a-u?dry_run=true`, { retries: 0 }, TENANT);
    assert.equal(r.status, 200);
    assert.deepEqual(asked, [['connection-count', { routes: ['tenant-a-r'], upstreamKeys: ['/apisix/upstreams/tenant-a-u'] }]]);
    assert.equal(r.json.effects.connections, 2);
    assert.deepEqual(r.json.unanswered_workers, [{ worker: 2, pid: 102, waited_ms: 2000 }]);
  });

  it('a real write asks no worker', async () => {
    asked.length = 0;
    const r = await h.call('PATCH', `${A}/upstreams/tenant-a-u`, { retries: 0 });
    assert.deepEqual([r.status, r.json.effects, r.json.unanswered_workers, asked], [200, undefined, undefined, []]);
  });
});
