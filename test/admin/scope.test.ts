// Scoped admin keys, as a truth table: every resource x method x (in scope, out of scope and existing, out of
// scope and missing), lists, references, explain and warnings. An out-of-scope id must answer byte for byte
// as a missing one, so a tenant can neither read nor guess another tenant's objects. Also key_sha256 and the
// write log (the key's name, never the key).

import { NO_HEALTH } from '../../src/health/types';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AdminKey } from '../../src/config/types';
import { configureErrorLog } from '../../src/log/logger';
import { buildSnapshot } from '../../src/snapshot/build';
import type { TempStore } from '../objects/fixtures';
import { CLIENT_SSL, SERVER_SSL, UPSTREAM } from '../objects/fixtures';
import { ADMIN_KEY, startAdmin, testConfig, type AdminHarness, type Reply } from './harness';

const A = '/apisix/admin';
const TENANT_A = 'tenant-a-key-0123456789';
const A_READER = 'tenant-a-reader-0123456789';
const HASHED = 'hashed-admin-key-0123456789';

const KEYS: AdminKey[] = [
  { name: 'admin', key: ADMIN_KEY, role: 'admin' },
  { name: 'tenant-a', key: TENANT_A, role: 'admin', scope: [{ resource: '*', ids: ['tenant-a-*'], methods: ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] }] },
  { name: 'tenant-a-reader', key: A_READER, role: 'admin', scope: [{ resource: '*', ids: ['tenant-a-*'], methods: ['GET'] }] },
  { name: 'hashed', key: '', keySha256: createHash('sha256').update(HASHED).digest('hex'), role: 'admin' },
];

type Res = 'stream_routes' | 'upstreams' | 'ssls';
const RESOURCES: Res[] = ['stream_routes', 'upstreams', 'ssls'];
const BODY: Record<Res, Record<string, unknown>> = {
  stream_routes: { server_port: 9100, upstream: UPSTREAM },
  upstreams: UPSTREAM,
  ssls: SERVER_SSL,
};
const PATCH: Record<Res, Record<string, unknown>> = {
  stream_routes: { server_port: 9101 },
  upstreams: { retries: 1 },
  ssls: { labels: { k: 'v' } },
};

const CHECKERS = ['/apisix/upstreams/tenant-a-1', '/apisix/upstreams/tenant-b-1'].map((name) => ({ name, type: 'tcp', nodes: [] }));

function sources(t: TempStore) {
  return {
    health: { list: () => CHECKERS, get: (key: string) => CHECKERS.find((c) => c.name === key) },
    inspect: {
      snapshot: () => buildSnapshot(t.store.readAll(), null).snapshot,
      health: NO_HEALTH,
      listeners: () => [9100, 9101].map((port) => ({ protocol: 'tcp' as const, host: '127.0.0.1', port, tls: null, origin: 'test' })),
      live: { tcp: null, udp: null },
    },
  };
}

/** Status and body text: what a client could compare between two answers. */
const seen = (r: Reply): string => `${r.status} ${r.text}`;

describe('scoped admin keys', () => {
  let h: AdminHarness;
  const logged: string[] = [];
  /** (Re)create the fixture objects of every resource with the unscoped key. */
  const reset = async (): Promise<void> => {
    for (const res of RESOURCES) {
      for (const id of ['tenant-a-1', 'tenant-b-1']) {
        await h.call('DELETE', `${A}/${res}/${id}?force=true`);
        assert.equal((await h.call('PUT', `${A}/${res}/${id}`, BODY[res])).status, 201);
      }
    }
  };
  before(async () => {
    configureErrorLog({ sink: (text) => logged.push(text) });
    h = await startAdmin(testConfig({ keys: KEYS }), KEYS, sources);
    await reset();
  });
  after(async () => {
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
    await h.close();
  });

  // [method, path suffix, body]: each run against an in-scope id, an out-of-scope existing id, an out-of-scope missing one
  const calls = (res: Res): Array<[string, string, unknown]> => [
    ['GET', '', undefined],
    ['PUT', '', BODY[res]],
    ['PATCH', '', PATCH[res]],
    ['DELETE', '?force=true', undefined],
  ];

  for (const res of RESOURCES) {
    for (const [method, suffix, body] of calls(res)) {
      it(`${res} ${method}: in scope as for the admin; out of scope exactly as missing`, async () => {
        await reset();
        const inScope = await h.call(method, `${A}/${res}/tenant-a-1${suffix}`, body, TENANT_A);
        assert.equal(inScope.status, 200, seen(inScope));
        await reset();
        const outExisting = await h.call(method, `${A}/${res}/tenant-b-1${suffix}`, body, TENANT_A);
        const outMissing = await h.call(method, `${A}/${res}/tenant-b-nope${suffix}`, body, TENANT_A);
        assert.equal(seen(outExisting), '404 {"message":"Key not found"}');
        assert.equal(seen(outMissing), seen(outExisting));
        // nothing of tenant b changed
        assert.equal((await h.call('GET', `${A}/${res}/tenant-b-1`)).json.value.id, 'tenant-b-1');
        assert.equal((await h.call('GET', `${A}/${res}/tenant-b-nope`)).status, 404);
      });
      it(`${res} ${method}: a read-only scope reads, and refuses the rest with 401`, async () => {
        await reset();
        const r = await h.call(method, `${A}/${res}/tenant-a-1${suffix}`, body, A_READER);
        if (method === 'GET') assert.equal(r.status, 200);
        else assert.deepEqual([r.status, r.json], [401, { error_msg: 'failed to check token', description: `method ${method} is not in the key's scope for this object` }]);
        const out = await h.call(method, `${A}/${res}/tenant-b-1${suffix}`, body, A_READER);
        assert.equal(seen(out), '404 {"message":"Key not found"}');
      });
    }
    it(`${res} POST: a generated id outside the scope is refused, and nothing is created`, async () => {
      const before = (await h.call('GET', `${A}/${res}`)).json.total;
      const r = await h.call('POST', `${A}/${res}`, BODY[res], TENANT_A);
      assert.equal(r.status, 400);
      assert.match(r.json.error_msg, /^the key's scope does not cover the generated id \d{20}; PUT an id within the scope instead$/);
      assert.equal((await h.call('GET', `${A}/${res}`)).json.total, before);
    });
    it(`${res} list: only the objects in scope`, async () => {
      await reset();
      const list = await h.call('GET', `${A}/${res}`, undefined, TENANT_A);
      assert.deepEqual([list.json.total, list.json.list.map((x: { value: { id: string } }) => x.value.id)], [1, ['tenant-a-1']]);
      const all = await h.call('GET', `${A}/${res}`);
      assert.equal(all.json.total, 2);
    });
  }

  it('references to out-of-scope objects are refused exactly as references to missing ones', async () => {
    await reset();
    await h.call('PUT', `${A}/ssls/tenant-b-c`, CLIENT_SSL);
    const pairs: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['stream_routes/tenant-a-2', { upstream_id: 'tenant-b-1' }, { upstream_id: 'tenant-b-none' }],
      ['upstreams/tenant-a-2', { ...UPSTREAM, scheme: 'tls', tls: { client_cert_id: 'tenant-b-c' } }, { ...UPSTREAM, scheme: 'tls', tls: { client_cert_id: 'tenant-b-none' } }],
    ];
    for (const [path, out, missing] of pairs) {
      const a = await h.call('PUT', `${A}/${path}`, out, TENANT_A);
      const b = await h.call('PUT', `${A}/${path}`, missing, TENANT_A);
      assert.equal(a.status, 400);
      assert.equal(seen(a).replace('tenant-b-c', 'X').replace('tenant-b-1', 'X'), seen(b).replace('tenant-b-none', 'X'));
    }
    // in scope: accepted
    assert.equal((await h.call('PUT', `${A}/stream_routes/tenant-a-2`, { upstream_id: 'tenant-a-1' }, TENANT_A)).status, 201);
  });

  it('deleting an in-scope upstream another tenant uses is refused without naming the other route', async () => {
    await reset();
    await h.call('DELETE', `${A}/stream_routes/tenant-a-2`);
    await h.call('PUT', `${A}/stream_routes/tenant-b-9`, { upstream_id: 'tenant-a-1' });
    const r = await h.call('DELETE', `${A}/upstreams/tenant-a-1`, undefined, TENANT_A);
    assert.deepEqual([r.status, r.json], [400, { error_msg: "can not delete this upstream, stream_route [(outside this key's scope)] is still using it now" }]);
    await h.call('DELETE', `${A}/stream_routes/tenant-b-9`);
  });

  it('explain names only routes in scope; a hidden winner looks like no route at all', async () => {
    for (const res of RESOURCES) for (const id of ['tenant-a-1', 'tenant-b-1', 'tenant-a-2']) await h.call('DELETE', `${A}/${res}/${id}?force=true`);
    await h.call('PUT', `${A}/upstreams/tenant-a-u`, UPSTREAM);
    await h.call('PUT', `${A}/stream_routes/tenant-a-r`, { server_port: 9100, remote_addr: '10.0.0.0/8', upstream_id: 'tenant-a-u' });
    await h.call('PUT', `${A}/stream_routes/tenant-b-r`, { server_port: 9100, remote_addr: '10.0.0.0/8', upstream: UPSTREAM });
    await h.call('PUT', `${A}/stream_routes/tenant-b-z`, { server_port: 9100, upstream: UPSTREAM });
    const explain = (client: string, key: string) => h.call('GET', `${A}/stream_routes/explain?remote_addr=${client}&server_port=9100`, undefined, key);
    const mine = await explain('10.1.2.3', TENANT_A);
    assert.deepEqual([mine.json.route.id, mine.json.outcome], ['tenant-a-r', 'proxied']);
    const hidden = await explain('192.0.2.1', TENANT_A);
    assert.deepEqual([hidden.json.route, hidden.json.outcome, hidden.json.skipped], [
      null, 'no_route_in_scope', [{ id: 'tenant-a-r', field: 'remote_addr', reason: 'remote_addr 192.0.2.1 ∉ 10.0.0.0/8' }],
    ]);
    assert.doesNotMatch(hidden.text, /tenant-b/);
    const admin = await explain('192.0.2.1', ADMIN_KEY);
    assert.equal(admin.json.route.id, 'tenant-b-z');
    // no route at all answers the same way to a scoped key
    const nothing = await h.call('GET', `${A}/stream_routes/explain?remote_addr=192.0.2.1&server_port=9101`, undefined, TENANT_A);
    assert.deepEqual([nothing.json.route, nothing.json.outcome], [null, 'no_route_in_scope']);
    assert.equal((await h.call('GET', `${A}/stream_routes/explain?remote_addr=192.0.2.1&server_port=9101`)).json.outcome, 'no_route');
  });

  it('a route with the id "explain" out of scope: GET by that id answers byte for byte as if there were none', async () => {
    const before = seen(await h.call('GET', `${A}/stream_routes/explain`, undefined, TENANT_A));
    assert.equal((await h.call('PUT', `${A}/stream_routes/explain`, { server_port: 9999, upstream: UPSTREAM })).status, 201);
    try {
      assert.equal(seen(await h.call('GET', `${A}/stream_routes/explain`, undefined, TENANT_A)), before);
      assert.equal((await h.call('GET', `${A}/stream_routes/explain`)).json.value.id, 'explain', 'the admin key gets the object');
    } finally {
      await h.call('DELETE', `${A}/stream_routes/explain`);
    }
  });

  it('warnings name only routes in scope', async () => {
    await h.call('PUT', `${A}/stream_routes/tenant-a-s`, { server_port: 9100, remote_addr: '10.1.0.0/16', upstream_id: 'tenant-a-u' });
    const admin = await h.call('GET', `${A}/stream_routes?warnings=true`);
    assert.deepEqual(admin.json.warnings.map((w: { route: string; shadowed_by: string }) => `${w.route}<${w.shadowed_by}`), ['tenant-a-s<tenant-a-r', 'tenant-b-r<tenant-a-r']);
    const mine = await h.call('GET', `${A}/stream_routes?warnings=true`, undefined, TENANT_A);
    assert.deepEqual(mine.json.warnings.map((w: { route: string }) => w.route), ['tenant-a-s']);
  });

  it('/v1/healthcheck shows only checkers in scope; another tenant\'s answers as missing', async () => {
    const mine = await h.call('GET', '/v1/healthcheck', undefined, TENANT_A);
    assert.deepEqual(mine.json.map((c: { name: string }) => c.name), ['/apisix/upstreams/tenant-a-1']);
    assert.equal((await h.call('GET', '/v1/healthcheck')).json.length, 2);
    const other = await h.call('GET', '/v1/healthcheck/upstreams/tenant-b-1', undefined, TENANT_A);
    const none = await h.call('GET', '/v1/healthcheck/upstreams/tenant-b-none', undefined, TENANT_A);
    assert.equal(seen(other).replace('tenant-b-1', 'X'), seen(none).replace('tenant-b-none', 'X'));
    assert.equal(other.status, 404);
  });

  it('a key given as key_sha256 works like the key itself', async () => {
    assert.equal((await h.call('GET', `${A}/upstreams`, undefined, HASHED)).status, 200);
    assert.equal((await h.call('GET', `${A}/upstreams`, undefined, createHash('sha256').update(HASHED).digest('hex'))).status, 401);
  });

  it('every write is logged with the key\'s name and never the key', async () => {
    logged.length = 0;
    await h.call('PUT', `${A}/upstreams/tenant-a-log`, UPSTREAM, TENANT_A);
    await h.call('PUT', `${A}/upstreams/tenant-b-log`, UPSTREAM, TENANT_A);
    await h.call('DELETE', `${A}/upstreams/tenant-a-log?dry_run=true`, undefined, TENANT_A);
    const lines = logged.join('').trim().split('\n').map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(lines, [
      'info admin write key=tenant-a method=PUT object=upstreams/tenant-a-log status=201',
      'info admin write key=tenant-a method=PUT object=upstreams/tenant-b-log status=404',
      'info admin write key=tenant-a method=DELETE object=upstreams/tenant-a-log status=200 dry_run=true',
    ]);
    assert.doesNotMatch(logged.join(''), new RegExp(TENANT_A));
  });

  it('stream_listeners: lists only objects in scope, an out-of-scope id answers as missing, writes are logged', async () => {
    for (const id of ['tenant-a-l', 'tenant-b-l']) assert.equal((await h.call('PUT', `${A}/stream_listeners/${id}`, { addr: '127.0.0.1:9557' })).status, 201);
    const list = await h.call('GET', `${A}/stream_listeners`, undefined, TENANT_A);
    assert.deepEqual([list.json.total, list.json.list.map((o: { value: { id: string } }) => o.value.id)], [1, ['tenant-a-l']]);
    const other = await h.call('GET', `${A}/stream_listeners/tenant-b-l`, undefined, TENANT_A);
    const none = await h.call('GET', `${A}/stream_listeners/tenant-b-none`, undefined, TENANT_A);
    assert.equal(seen(other), seen(none));
    logged.length = 0;
    assert.equal((await h.call('PATCH', `${A}/stream_listeners/tenant-b-l`, { desc: 'x' }, TENANT_A)).status, 404);
    assert.equal((await h.call('PATCH', `${A}/stream_listeners/tenant-a-l`, { desc: 'x' }, TENANT_A)).status, 200);
    const lines = logged.join('').trim().split('\n').map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(lines, [
      'info admin write key=tenant-a method=PATCH object=stream_listeners/tenant-b-l status=404',
      'info admin write key=tenant-a method=PATCH object=stream_listeners/tenant-a-l status=200',
    ]);
  });
});
