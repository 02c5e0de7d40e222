// Admin API over real HTTP: envelopes, status codes and error strings of spec 2.2-2.5 and section 9 items
// 1-8, 10, 12; lists with paging and filters; PATCH; force delete; a concurrent burst of writes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_SSL, FAKE_CERT, FAKE_KEY, SERVER_SSL, UPSTREAM } from '../objects/fixtures';
import { startAdmin, type AdminHarness } from './harness';

const A = '/apisix/admin';

function isTimestamp(v: unknown): boolean {
  return Number.isInteger(v) && Math.abs((v as number) - Date.now() / 1000) < 60;
}

describe('Admin API resources', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(async () => {
    await h.close();
  });

  it('spec 2.4 / pinned 1-2: PUT creates a stream route, GET adds the indexes', async () => {
    const body = { remote_addr: '127.0.0.1', upstream: { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' } };
    const put = await h.call('PUT', `${A}/stream_routes/1`, body);
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('content-type'), 'application/json');
    assert.equal(put.headers.get('x-api-version'), 'v3');
    const { create_time, update_time, ...rest } = put.json.value;
    assert.deepEqual(Object.keys(put.json).sort(), ['key', 'value']);
    assert.equal(put.json.key, '/apisix/stream_routes/1');
    assert.deepEqual(rest, { id: '1', ...body });
    assert.ok(isTimestamp(create_time));
    assert.equal(update_time, create_time);

    const get = await h.call('GET', `${A}/stream_routes/1`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.json, {
      key: '/apisix/stream_routes/1',
      value: put.json.value,
      createdIndex: 1,
      modifiedIndex: 1,
    });
    assert.equal(h.changes(), 1);
  });

  it('PUT over an existing key answers 200 and moves modifiedIndex only', async () => {
    const put = await h.call('PUT', `${A}/stream_routes/1`, { remote_addr: '127.0.0.1/26', upstream: UPSTREAM });
    assert.equal(put.status, 200);
    const get = await h.call('GET', `${A}/stream_routes/1`);
    assert.equal(get.json.createdIndex, 1);
    assert.equal(get.json.modifiedIndex, 2);
    assert.equal(get.json.value.remote_addr, '127.0.0.1/26');
  });

  it('spec 2.4 / pinned 3: POST returns the generated 20-digit id in key and value', async () => {
    const post = await h.call('POST', `${A}/upstreams`, UPSTREAM);
    assert.equal(post.status, 201);
    const id = post.json.value.id;
    assert.match(id, /^\d{20}$/);
    assert.equal(post.json.key, `/apisix/upstreams/${id}`);
    assert.deepEqual(post.json.value, { id, ...UPSTREAM, create_time: post.json.value.create_time, update_time: post.json.value.create_time });
    assert.ok(isTimestamp(post.json.value.create_time));
    const again = await h.call('POST', `${A}/upstreams`, UPSTREAM);
    assert.equal(BigInt(again.json.value.id), BigInt(id) + 1n);
  });

  it('pinned 4: DELETE returns exactly {"deleted":"1","key":...}; then 404 Key not found', async () => {
    await h.call('PUT', `${A}/stream_routes/del`, {});
    const del = await h.call('DELETE', `${A}/stream_routes/del`);
    assert.equal(del.status, 200);
    assert.equal(del.text, '{"deleted":"1","key":"/apisix/stream_routes/del"}');
    const del1 = await h.call('DELETE', `${A}/stream_routes/1`);
    assert.equal(del1.text, '{"deleted":"1","key":"/apisix/stream_routes/1"}');
    const gone = await h.call('GET', `${A}/stream_routes/1`);
    assert.equal(gone.status, 404);
    assert.equal(gone.text, '{"message":"Key not found"}');
    const again = await h.call('DELETE', `${A}/stream_routes/1`);
    assert.deepEqual([again.status, again.json], [404, { message: 'Key not found' }]);
  });

  it('pinned 5: a-b-c-ABC_0123 is a valid id; *invalid is 400', async () => {
    const ok = await h.call('PUT', `${A}/stream_routes/a-b-c-ABC_0123`, { upstream: UPSTREAM });
    assert.equal(ok.status, 201);
    assert.equal(ok.json.key, '/apisix/stream_routes/a-b-c-ABC_0123');
    const bad = await h.call('PUT', `${A}/stream_routes/*invalid`, { upstream: UPSTREAM });
    assert.deepEqual([bad.status, bad.json], [
      400,
      { error_msg: 'invalid configuration: property "id" validation failed: object matches none of the required' },
    ]);
  });

  it('pinned 6-7: schema failures are 400 with an error_msg; nothing is stored', async () => {
    const plugin = await h.call('PUT', `${A}/stream_routes/p`, { plugins: { 'mqttt-proxy': {} } });
    assert.equal(plugin.status, 400);
    assert.match(plugin.json.error_msg, /mqttt-proxy/);
    const addr = await h.call('PUT', `${A}/stream_routes/p`, { remote_addr: ':/8', upstream: UPSTREAM });
    assert.equal(addr.status, 400);
    assert.equal(typeof addr.json.error_msg, 'string');
    assert.equal((await h.call('GET', `${A}/stream_routes/p`)).status, 404);
    const v6 = await h.call('PUT', `${A}/stream_routes/v6`, { remote_addr: '::1', server_addr: '::1', upstream: UPSTREAM });
    assert.equal(v6.status, 201);
  });

  it('spec 2.3: id and timestamp errors', async () => {
    const cases: [string, string, unknown, string][] = [
      ['PUT', `${A}/stream_routes`, { upstream: UPSTREAM }, 'missing stream route id'],
      ['PUT', `${A}/stream_routes/1`, { id: '2' }, 'wrong stream route id'],
      ['POST', `${A}/stream_routes`, { id: '2' }, 'wrong stream route id, do not need it'],
      ['PUT', `${A}/upstreams/u`, { ...UPSTREAM, create_time: 1 }, 'the property is forbidden:  create_time'],
      ['POST', `${A}/stream_routes`, { upstream: { ...UPSTREAM, update_time: 1 } }, 'the property is forbidden:  upstream.update_time'],
      ['PUT', `${A}/ssls`, SERVER_SSL, 'missing ssl id'],
      ['DELETE', `${A}/upstreams`, undefined, 'missing upstream id'],
    ];
    for (const [method, path, body, msg] of cases) {
      const r = await h.call(method, path, body);
      assert.deepEqual([method, path, r.status, r.json], [method, path, 400, { error_msg: msg }]);
    }
  });

  it('spec 2.4: upstream_id must exist; deleting a used upstream needs ?force=true', async () => {
    const missing = await h.call('PUT', `${A}/stream_routes/r`, { upstream_id: '99' });
    assert.deepEqual([missing.status, missing.json], [
      400,
      { error_msg: 'failed to fetch upstream info by upstream id [99], response code: 404' },
    ]);
    assert.equal((await h.call('PUT', `${A}/upstreams/u1`, UPSTREAM)).status, 201);
    assert.equal((await h.call('PUT', `${A}/stream_routes/r`, { upstream_id: 'u1' })).status, 201);
    const refused = await h.call('DELETE', `${A}/upstreams/u1`);
    assert.deepEqual([refused.status, refused.json], [
      400,
      { error_msg: 'can not delete this upstream, stream_route [r] is still using it now' },
    ]);
    const notForce = await h.call('DELETE', `${A}/upstreams/u1?force=1`);
    assert.equal(notForce.status, 400);
    const forced = await h.call('DELETE', `${A}/upstreams/u1?force=true`);
    assert.deepEqual([forced.status, forced.json], [200, { deleted: '1', key: '/apisix/upstreams/u1' }]);
  });

  it('PATCH: deep merge, sub-path, also on stream_routes', async () => {
    await h.call('PUT', `${A}/upstreams/pu`, { nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 1 }, type: 'roundrobin', desc: 'x' });
    const merged = await h.call('PATCH', `${A}/upstreams/pu`, { nodes: { '127.0.0.1:2': null, '127.0.0.1:3': 5 }, desc: null });
    assert.equal(merged.status, 200);
    assert.deepEqual(Object.keys(merged.json).sort(), ['key', 'value']);
    assert.deepEqual(merged.json.value.nodes, { '127.0.0.1:1': 1, '127.0.0.1:3': 5 });
    assert.equal('desc' in merged.json.value, false);
    const sub = await h.call('PATCH', `${A}/upstreams/pu/nodes`, { '127.0.0.1:9': 1 });
    assert.deepEqual(sub.json.value.nodes, { '127.0.0.1:9': 1 });
    await h.call('PUT', `${A}/stream_routes/pr`, { remote_addr: '127.0.0.1', upstream_id: 'pu' });
    const route = await h.call('PATCH', `${A}/stream_routes/pr`, { remote_addr: '127.0.0.2' });
    assert.deepEqual([route.status, route.json.value.remote_addr, route.json.value.upstream_id], [200, '127.0.0.2', 'pu']);
    const missing = await h.call('PATCH', `${A}/upstreams/none`, { desc: 'x' });
    assert.deepEqual([missing.status, missing.json], [404, { message: 'Key not found' }]);
  });

  it('pinned 10 / spec 2.4 secrets: GET never shows ssl key/keys or an inline tls.client_key', async () => {
    const put = await h.call('PUT', `${A}/ssls/s1`, { ...SERVER_SSL, certs: [FAKE_CERT], keys: [FAKE_KEY] });
    assert.equal(put.status, 201);
    for (const r of [put.json.value, (await h.call('GET', `${A}/ssls/s1`)).json.value]) {
      assert.deepEqual([r.key, r.keys, r.cert], [undefined, undefined, FAKE_CERT]);
    }
    const list = await h.call('GET', `${A}/ssls`);
    assert.equal(list.text.includes('PRIVATE KEY'), false);
    assert.equal((await h.call('PUT', `${A}/ssls/c1`, CLIENT_SSL)).status, 201);
    const inline = { upstream: { ...UPSTREAM, tls: { client_cert: FAKE_CERT, client_key: FAKE_KEY } } };
    const route = await h.call('PUT', `${A}/stream_routes/mtls`, inline);
    assert.equal(route.status, 201);
    const got = await h.call('GET', `${A}/stream_routes/mtls`);
    assert.deepEqual(got.json.value.upstream.tls, { client_cert: FAKE_CERT });
    assert.equal(got.text.includes('PRIVATE KEY'), false);
  });

  it('pinned 12: PUT, DELETE, PUT in quick succession leaves the route there', async () => {
    const a = await h.call('PUT', `${A}/stream_routes/q`, { upstream: UPSTREAM });
    const b = await h.call('DELETE', `${A}/stream_routes/q`);
    const c = await h.call('PUT', `${A}/stream_routes/q`, { upstream: UPSTREAM, remote_addr: '127.0.0.1' });
    assert.deepEqual([a.status, b.status, c.status], [201, 200, 201]);
    const got = await h.call('GET', `${A}/stream_routes/q`);
    assert.equal(got.json.value.remote_addr, '127.0.0.1');
    assert.ok(h.t.store.readAll().streamRoutes.some((r) => r.id === 'q'));
  });

  it('a burst of 50 concurrent PUTs is all acknowledged and all present', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    const replies = await Promise.all(ids.map((id) => h.call('PUT', `${A}/upstreams/${id}`, UPSTREAM)));
    assert.deepEqual(replies.map((r) => r.status), ids.map(() => 201));
    const list = await h.call('GET', `${A}/upstreams?filter=${encodeURIComponent('type=roundrobin')}`);
    const present = (list.json.list as { value: { id: string } }[]).map((i) => i.value.id).filter((id) => id.startsWith('burst-'));
    assert.deepEqual(present, ids);
  });

  it('unknown resource 404; unsupported method 404; schema/validate', async () => {
    const unk = await h.call('GET', `${A}/routes/1`);
    assert.deepEqual([unk.status, unk.json], [404, { error_msg: 'Unsupported resource type: routes' }]);
    const method = await h.call('OPTIONS', `${A}/upstreams`, undefined, undefined);
    assert.equal(method.status, 200); // CORS preflight answers OPTIONS
    const valid = await h.call('POST', `${A}/schema/validate/upstreams`, UPSTREAM);
    assert.deepEqual([valid.status, valid.text], [200, '']);
    const invalid = await h.call('POST', `${A}/schema/validate/upstreams`, { nodes: 'nope' });
    assert.equal(invalid.status, 400);
    assert.equal(typeof invalid.json.error_msg, 'string');
    const unkValidate = await h.call('POST', `${A}/schema/validate/consumers`, {});
    assert.deepEqual([unkValidate.status, unkValidate.json], [404, { error_msg: 'Unsupported resource type: consumers' }]);
  });
});

describe('Admin API lists', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
    await h.call('PUT', `${A}/upstreams/u1`, UPSTREAM);
    await h.call('PUT', `${A}/upstreams/u2`, UPSTREAM);
    // created in this order: z, a, m (ids sort a, m, z)
    await h.call('PUT', `${A}/stream_routes/z`, { name: 'zeta', upstream_id: 'u1', labels: { env: 'prod' } });
    await h.call('PUT', `${A}/stream_routes/a`, { name: 'alpha', upstream_id: 'u2' });
    await h.call('PUT', `${A}/stream_routes/m`, { name: 'mu', upstream_id: 'u1', labels: { team: 'x' } });
  });
  after(async () => {
    await h.close();
  });

  const ids = (r: { json: { list: { value: { id: string } }[] } }) => r.json.list.map((i) => i.value.id);

  it('an empty list is {"list":[],"total":0}', async () => {
    const r = await h.call('GET', `${A}/ssls`);
    assert.deepEqual([r.status, r.text], [200, '{"list":[],"total":0}']);
  });

  it('lists in id byte order with key/value/createdIndex/modifiedIndex', async () => {
    const r = await h.call('GET', `${A}/stream_routes`);
    assert.deepEqual(ids(r), ['a', 'm', 'z']);
    assert.equal(r.json.total, 3);
    assert.deepEqual(Object.keys(r.json.list[0]).sort(), ['createdIndex', 'key', 'modifiedIndex', 'value']);
    assert.equal(r.json.list[0].key, '/apisix/stream_routes/a');
  });

  it('filters: name regex, label key, filter=upstream_id%3D1', async () => {
    assert.deepEqual(ids(await h.call('GET', `${A}/stream_routes?name=^m`)), ['m']);
    assert.deepEqual(ids(await h.call('GET', `${A}/stream_routes?label=env`)), ['z']);
    const f = await h.call('GET', `${A}/stream_routes?filter=upstream_id%3Du1`);
    assert.deepEqual([ids(f), f.json.total], [['m', 'z'], 2]);
  });

  it('paging sorts by createdIndex; total counts before paging; page_size bounds', async () => {
    const p1 = await h.call('GET', `${A}/stream_routes?page=1&page_size=10`);
    assert.deepEqual([ids(p1), p1.json.total], [['z', 'a', 'm'], 3]);
    const p2 = await h.call('GET', `${A}/stream_routes?page=2&page_size=10`);
    assert.deepEqual([ids(p2), p2.json.total], [[], 3]);
    for (const size of ['9', '501', 'x']) {
      const bad = await h.call('GET', `${A}/stream_routes?page=1&page_size=${size}`);
      assert.deepEqual([bad.status, bad.text], [400, 'page_size must be between 10 and 500']);
    }
  });
});
