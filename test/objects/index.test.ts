// Object operations without HTTP: APISIX id rules, timestamps, references, PATCH, DELETE, 503 mapping.

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  deleteObject,
  getObject,
  listObjects,
  patchObject,
  postObject,
  putObject,
  type ObjectContext,
} from '../../src/objects/index';
import type { Store } from '../../src/store/types';
import { CLIENT_SSL, FAKE_CERT, FAKE_KEY, SERVER_SSL, UPSTREAM, failure, tempStore, type TempStore } from './fixtures';

describe('object operations', () => {
  let t: TempStore;
  let ctx: ObjectContext;
  let changes = 0;
  let clock = 1700000000;

  before(() => {
    t = tempStore();
    ctx = { store: t.store, onChange: () => changes++, now: () => clock };
  });
  after(() => t.close());
  beforeEach(() => {
    changes = 0;
  });

  it('PUT creates (201) with id and timestamps, then replaces (200) keeping create_time', () => {
    const created = putObject(ctx, 'upstreams', '1', UPSTREAM);
    assert.deepEqual(created, {
      status: 201,
      body: { key: '/apisix/upstreams/1', value: { id: '1', ...UPSTREAM, create_time: clock, update_time: clock } },
    });
    clock += 10;
    const replaced = putObject(ctx, 'upstreams', '1', { nodes: { '127.0.0.1:2000': 1 } });
    assert.deepEqual(replaced, {
      status: 200,
      body: {
        key: '/apisix/upstreams/1',
        // replaced whole: no "type" left over from the first PUT
        value: { id: '1', nodes: { '127.0.0.1:2000': 1 }, create_time: clock - 10, update_time: clock },
      },
    });
    assert.equal(changes, 2);
  });

  it('PUT id rules: missing, mismatched, bad, from the body', () => {
    assert.deepEqual(failure(() => putObject(ctx, 'stream_routes', undefined, {})), [400, { error_msg: 'missing stream route id' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'upstreams', '1', { ...UPSTREAM, id: '2' })), [400, { error_msg: 'wrong upstream id' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'ssls', '*invalid', SERVER_SSL)), [
      400,
      { error_msg: 'invalid configuration: property "id" validation failed: object matches none of the required' },
    ]);
    // an integer body id equal to the URL id is fine, and stored as the string
    assert.equal(putObject(ctx, 'upstreams', '1', { ...UPSTREAM, id: 1 }).body.key, '/apisix/upstreams/1');
    // no URL id: the body's id is used
    const fromBody = putObject(ctx, 'upstreams', undefined, { ...UPSTREAM, id: 'a-b-c-ABC_0123' });
    assert.equal(fromBody.status, 201);
    assert.equal(fromBody.body.key, '/apisix/upstreams/a-b-c-ABC_0123');
    assert.equal(changes, 2);
  });

  it('PUT/POST refuse timestamps at top level, in upstream and in plugins (two spaces)', () => {
    const forbidden = (body: unknown) => failure(() => putObject(ctx, 'stream_routes', '9', body));
    assert.deepEqual(forbidden({ create_time: 1 }), [400, { error_msg: 'the property is forbidden:  create_time' }]);
    assert.deepEqual(forbidden({ update_time: 1 }), [400, { error_msg: 'the property is forbidden:  update_time' }]);
    assert.deepEqual(forbidden({ upstream: { ...UPSTREAM, create_time: 1 } }), [
      400,
      { error_msg: 'the property is forbidden:  upstream.create_time' },
    ]);
    assert.deepEqual(forbidden({ plugins: { update_time: {} } }), [400, { error_msg: 'the property is forbidden:  plugins.update_time' }]);
    assert.deepEqual(failure(() => postObject(ctx, 'upstreams', undefined, { ...UPSTREAM, create_time: 1 })), [
      400,
      { error_msg: 'the property is forbidden:  create_time' },
    ]);
    assert.equal(t.store.get('stream_routes', '9'), undefined);
    assert.equal(changes, 0);
  });

  it('missing or non-object bodies', () => {
    assert.deepEqual(failure(() => putObject(ctx, 'upstreams', '1', undefined)), [400, { error_msg: 'missing configurations' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'upstreams', '1', [1])), [
      400,
      { error_msg: 'invalid configuration: wrong type: expected object, got table' },
    ]);
    assert.deepEqual(failure(() => patchObject(ctx, 'upstreams', '1', '', undefined)), [400, { error_msg: 'missing new configuration' }]);
    assert.deepEqual(failure(() => patchObject(ctx, 'upstreams', '1', '', 'x')), [400, { error_msg: 'invalid configuration' }]);
  });

  it('POST generates increasing 20-digit ids and refuses any id', () => {
    const a = postObject(ctx, 'upstreams', undefined, UPSTREAM);
    const b = postObject(ctx, 'upstreams', undefined, UPSTREAM);
    assert.equal(a.status, 201);
    assert.match(String(a.body.key), /^\/apisix\/upstreams\/\d{20}$/);
    const idA = (a.body.value as { id: string }).id;
    const idB = (b.body.value as { id: string }).id;
    assert.equal(BigInt(idB), BigInt(idA) + 1n);
    assert.deepEqual(a.body.value, { id: idA, ...UPSTREAM, create_time: clock, update_time: clock });
    assert.deepEqual(failure(() => postObject(ctx, 'stream_routes', undefined, { id: '3' })), [
      400,
      { error_msg: 'wrong stream route id, do not need it' },
    ]);
    assert.deepEqual(failure(() => postObject(ctx, 'stream_routes', '3', {})), [400, { error_msg: 'wrong stream route id, do not need it' }]);
  });

  it('stream route references: upstream_id must exist; service_id never does', () => {
    assert.deepEqual(failure(() => putObject(ctx, 'stream_routes', '1', { upstream_id: '99' })), [
      400,
      { error_msg: 'failed to fetch upstream info by upstream id [99], response code: 404' },
    ]);
    assert.deepEqual(failure(() => putObject(ctx, 'stream_routes', '1', { service_id: 'x' })), [
      400,
      { error_msg: 'failed to fetch service info by service id [x], response code: 404' },
    ]);
    assert.equal(putObject(ctx, 'stream_routes', '1', { upstream_id: '1' }).status, 201);
    assert.equal(putObject(ctx, 'stream_routes', '2', { upstream_id: 1 }).status, 201);
  });

  it('upstream tls.client_cert_id must name a client ssl', () => {
    const withCert = (id: string) => ({ ...UPSTREAM, tls: { client_cert_id: id } });
    assert.deepEqual(failure(() => putObject(ctx, 'upstreams', 'mtls', withCert('404'))), [
      400,
      { error_msg: 'failed to fetch ssl info by ssl id [404], response code: 404' },
    ]);
    putObject(ctx, 'ssls', 'srv', SERVER_SSL);
    putObject(ctx, 'ssls', 'cli', CLIENT_SSL);
    assert.deepEqual(failure(() => putObject(ctx, 'upstreams', 'mtls', withCert('srv'))), [
      400,
      { error_msg: 'failed to fetch ssl info by ssl id [srv], wrong ssl type' },
    ]);
    assert.equal(putObject(ctx, 'upstreams', 'mtls', withCert('cli')).status, 201);
  });

  it('DELETE: referenced upstream refused unless force; 404 for a missing key; exact envelope', () => {
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', '1')), [
      400,
      { error_msg: 'can not delete this upstream, stream_route [1] is still using it now' },
    ]);
    assert.deepEqual(deleteObject(ctx, 'stream_routes', '1'), {
      status: 200,
      body: { deleted: '1', key: '/apisix/stream_routes/1' },
    });
    // route 2 (upstream_id given as a number) still holds it
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', '1')), [
      400,
      { error_msg: 'can not delete this upstream, stream_route [2] is still using it now' },
    ]);
    assert.deepEqual(deleteObject(ctx, 'upstreams', '1', { force: true }).body, { deleted: '1', key: '/apisix/upstreams/1' });
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', '1')), [404, { message: 'Key not found' }]);
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', undefined)), [400, { error_msg: 'missing upstream id' }]);
  });

  it('PATCH merges, keeps create_time, refreshes update_time unless set, and supports sub-paths', () => {
    putObject(ctx, 'upstreams', 'p', { nodes: { 'a.test:1': 1, 'b.test:2': 1 }, type: 'roundrobin', labels: { env: 'x' } });
    const created = clock;
    clock += 5;
    const merged = patchObject(ctx, 'upstreams', 'p', '', { nodes: { 'b.test:2': null, 'c.test:3': 2 }, labels: null });
    assert.deepEqual(merged, {
      status: 200,
      body: {
        key: '/apisix/upstreams/p',
        value: { id: 'p', nodes: { 'a.test:1': 1, 'c.test:3': 2 }, type: 'roundrobin', create_time: created, update_time: clock },
      },
    });
    const pinned = patchObject(ctx, 'upstreams', 'p', '', { update_time: 42 });
    assert.equal((pinned.body.value as { update_time: number }).update_time, 42);
    clock += 5;
    const sub = patchObject(ctx, 'upstreams', 'p', 'nodes', { 'd.test:4': 1 });
    assert.deepEqual(sub.body.value, { id: 'p', nodes: { 'd.test:4': 1 }, type: 'roundrobin', create_time: created, update_time: clock });
    assert.deepEqual(getObject(t.store, 'upstreams', 'p').body.value, sub.body.value);
    assert.deepEqual(failure(() => patchObject(ctx, 'upstreams', 'p', 'type/x', 1)), [400, { error_msg: 'invalid sub-path: /type' }]);
    assert.deepEqual(failure(() => patchObject(ctx, 'upstreams', 'p', '', { id: 'other' })), [400, { error_msg: 'wrong upstream id' }]);
    assert.deepEqual(failure(() => patchObject(ctx, 'upstreams', 'nope', '', {})), [404, { message: 'Key not found' }]);
  });

  it('PATCH on a stream route re-checks references ([weir] superset)', () => {
    putObject(ctx, 'stream_routes', 'sr', { remote_addr: '127.0.0.1', upstream: UPSTREAM });
    assert.deepEqual(failure(() => patchObject(ctx, 'stream_routes', 'sr', '', { upstream_id: '404' })), [
      400,
      { error_msg: 'failed to fetch upstream info by upstream id [404], response code: 404' },
    ]);
    const ok = patchObject(ctx, 'stream_routes', 'sr', 'remote_addr', '127.0.0.2');
    assert.equal((ok.body.value as { remote_addr: string }).remote_addr, '127.0.0.2');
  });

  it('SSL responses never carry key/keys; upstream responses never carry tls.client_key', () => {
    const put = putObject(ctx, 'ssls', 's1', SERVER_SSL);
    assert.deepEqual(put.body.value, { id: 's1', sni: 'test.com', cert: SERVER_SSL.cert, create_time: clock, update_time: clock });
    assert.equal('key' in (getObject(t.store, 'ssls', 's1').body.value as object), false);
    const listed = listObjects(t.store, 'ssls').body.list as { value: object }[];
    assert.ok(listed.length >= 1 && listed.every((item) => !('key' in item.value) && !('keys' in item.value)));
    // the key is still stored (the proxy needs it)
    assert.equal(t.store.get('ssls', 's1')?.value.key, SERVER_SSL.key);
  });

  it('secret references are echoed by writes as sent (APISIX ssl.t 21-22), never by GET, and stored as sent', () => {
    const refs = {
      sni: 'test.com',
      cert: '$secret://vault/test/ssl/test.com.crt',
      key: '$secret://vault/test/ssl/test.com.key',
      certs: ['$env://APISIX_TEST_SSL_CERTS'],
      keys: ['$ENV://APISIX_TEST_SSL_KEYS'],
    };
    assert.deepEqual(putObject(ctx, 'ssls', 'refs', refs).body.value, { id: 'refs', ...refs, create_time: clock, update_time: clock });
    assert.deepEqual(getObject(t.store, 'ssls', 'refs').body.value, {
      id: 'refs', sni: 'test.com', cert: refs.cert, certs: refs.certs, create_time: clock, update_time: clock,
    });
    assert.equal(t.store.get('ssls', 'refs')?.value.key, refs.key);
    // a keys list holding key material is hidden whole, even beside references
    const mixed = putObject(ctx, 'ssls', 'mixed', { ...SERVER_SSL, certs: [FAKE_CERT, '$env://C'], keys: [FAKE_KEY, '$env://K'] });
    const shown = mixed.body.value as object;
    assert.deepEqual(['key' in shown, 'keys' in shown], [false, false]);
    const upstream = { nodes: { '127.0.0.1:1': 1 }, scheme: 'tls', tls: { client_cert: '$env://C', client_key: '$env://K' } };
    assert.deepEqual((putObject(ctx, 'upstreams', 'refs', upstream).body.value as typeof upstream).tls, upstream.tls);
    assert.deepEqual((getObject(t.store, 'upstreams', 'refs').body.value as typeof upstream).tls, { client_cert: '$env://C' });
  });

  it('a failed write leaves the database unchanged and calls no onChange', () => {
    const before = t.store.readAll();
    assert.throws(() => putObject(ctx, 'stream_routes', 'x', { upstream_id: 'missing' }));
    assert.throws(() => patchObject(ctx, 'upstreams', 'p', '', { id: 'zzz' }));
    assert.throws(() => deleteObject(ctx, 'ssls', 'missing'));
    assert.deepEqual(t.store.readAll(), before);
    assert.equal(changes, 0);
  });
});

describe('object operations on a failing store', () => {
  let t: TempStore;
  before(() => {
    t = tempStore();
  });
  after(() => t.close());

  it('maps a store exception to 503 with its message and rolls back', () => {
    const broken: Store = { ...t.store, put: () => { throw new Error('SQLITE_FULL: database or disk is full'); } };
    assert.deepEqual(failure(() => putObject({ store: broken }, 'upstreams', '1', UPSTREAM)), [
      503,
      { error_msg: 'SQLITE_FULL: database or disk is full' },
    ]);
    assert.equal(t.store.revision(), 0);
  });

  it('a throwing onChange does not turn a committed write into an error', () => {
    const res = putObject({ store: t.store, onChange: () => { throw new Error('listener bug'); } }, 'upstreams', '1', UPSTREAM);
    assert.equal(res.status, 201);
    assert.ok(t.store.get('upstreams', '1'));
  });
});
