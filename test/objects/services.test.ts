// services and plugin_metadata through the object operations: APISIX's envelopes, references (service_id,
// upstream_id, traffic-split's upstream_id), delete checks with their messages, and plugin_metadata's rules
// (the URL names the plugin, no timestamps, no POST or PATCH).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deleteObject, getObject, listObjects, patchObject, postObject, putObject, type ObjectContext } from '../../src/objects/index';
import { PluginSet } from '../../src/plugins/registry';
import { CLIENT_SSL, FAKE_CERT, FAKE_KEY, UPSTREAM, failure, tempStore, type TempStore } from './fixtures';

const LIMIT = { conn: 1, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' };
const split = (id: string) => ({ 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: id, weight: 1 }] }] } });

describe('services', () => {
  let t: TempStore;
  let ctx: ObjectContext;
  const clock = 1700000000;

  before(() => {
    t = tempStore();
    ctx = { store: t.store, now: () => clock };
    putObject(ctx, 'upstreams', 'u', UPSTREAM);
  });
  after(() => t.close());

  it('PUT creates with timestamps; GET returns it with indexes; POST generates the id', () => {
    const body = { name: 'db', upstream_id: 'u', plugins: { 'limit-conn': LIMIT } };
    assert.deepEqual(putObject(ctx, 'services', 's1', body), {
      status: 201,
      body: { key: '/apisix/services/s1', value: { id: 's1', ...body, create_time: clock, update_time: clock } },
    });
    const got = getObject(t.store, 'services', 's1').body;
    assert.equal(got.key, '/apisix/services/s1');
    assert.equal(typeof got.createdIndex, 'number');
    const posted = postObject(ctx, 'services', undefined, { upstream: UPSTREAM });
    assert.match(String(posted.body.key), /^\/apisix\/services\/\d{20}$/);
  });

  it('validates like APISIX: plugins, upstream rules, unknown fields', () => {
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { plugins: { 'mqttt-proxy': {} } })), [400, { error_msg: 'unknown plugin [mqttt-proxy]' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { plugins: { 'limit-conn': {} } })), [
      400, { error_msg: 'failed to check the configuration of stream plugin [limit-conn]: property "conn" is required' },
    ]);
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { upstream: { nodes: { '::1:80': 1 } } })), [
      400, { error_msg: "invalid configuration: IPv6 address must be enclosed with '[' and ']'" },
    ]);
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { uri: '/' })), [400, { error_msg: 'invalid configuration: additional properties forbidden, found uri' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { upstream_id: 'ghost' })), [
      400, { error_msg: 'failed to fetch upstream info by upstream id [ghost], response code: 404' },
    ]);
    assert.deepEqual(failure(() => putObject(ctx, 'services', 'x', { plugins: split('ghost') })), [
      400, { error_msg: 'failed to fetch upstream info by upstream id [ghost], response code: 404' },
    ]);
    // HTTP settings are accepted and kept
    assert.equal(putObject(ctx, 'services', 'http', { hosts: ['a.test'], enable_websocket: true }).status, 201);
  });

  it('a plugin the config does not enable is unknown', () => {
    const only = { ...ctx, plugins: new PluginSet(['limit-conn']) };
    assert.deepEqual(failure(() => putObject(only, 'services', 'x', { plugins: { 'ip-restriction': { whitelist: ['10.0.0.1'] } } })), [
      400, { error_msg: 'unknown plugin [ip-restriction]' },
    ]);
  });

  it('a route names a service by service_id: it must exist', () => {
    assert.deepEqual(failure(() => putObject(ctx, 'stream_routes', 'r0', { service_id: 'ghost' })), [
      400, { error_msg: 'failed to fetch service info by service id [ghost], response code: 404' },
    ]);
    assert.equal(putObject(ctx, 'stream_routes', 'r1', { service_id: 's1', server_port: 9100 }).status, 201);
    assert.equal(putObject(ctx, 'stream_routes', 'r2', { service_id: 's1' }).status, 201);
    assert.deepEqual(listObjects(t.store, 'stream_routes', { filter: 'service_id=s1' }).body.total, 2);
  });

  it('a service in use cannot be deleted without force; an upstream used by a service neither', () => {
    assert.deepEqual(failure(() => deleteObject(ctx, 'services', 's1')), [
      400, { error_msg: 'can not delete this service directly, stream_route [r1] is still using it now' },
    ]);
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', 'u')), [400, { error_msg: 'can not delete this upstream, service [s1] is still using it now' }]);
    putObject(ctx, 'upstreams', 'v', UPSTREAM);
    putObject(ctx, 'stream_routes', 'r3', { plugins: split('v'), upstream: UPSTREAM });
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', 'v')), [400, { error_msg: 'can not delete this upstream, plugin in stream_route [r3] is still using it now' }]);
    putObject(ctx, 'upstreams', 'w', UPSTREAM);
    putObject(ctx, 'services', 'sw', { plugins: split('w') });
    assert.deepEqual(failure(() => deleteObject(ctx, 'upstreams', 'w')), [400, { error_msg: 'can not delete this upstream, plugin in service [sw] is still using it now' }]);
    assert.deepEqual(deleteObject(ctx, 'services', 's1', { force: true }).body, { deleted: '1', key: '/apisix/services/s1' });
  });

  it('PATCH merges into a service and validates the result', () => {
    putObject(ctx, 'services', 'p', { upstream: UPSTREAM, plugins: { 'limit-conn': LIMIT } });
    const patched = patchObject(ctx, 'services', 'p', '', { plugins: { 'limit-conn': { conn: 3 } } });
    assert.equal((patched.body.value as { plugins: { 'limit-conn': { conn: number; burst: number } } }).plugins['limit-conn'].conn, 3);
    assert.deepEqual(failure(() => patchObject(ctx, 'services', 'p', 'plugins/limit-conn/conn', 0)), [
      400, { error_msg: 'failed to check the configuration of stream plugin [limit-conn]: property "conn" validation failed: expected 0 to be greater than 0' },
    ]);
  });

  it("a service's inline upstream keeps its tls.client_key out of every response", () => {
    putObject(ctx, 'ssls', 'c', CLIENT_SSL);
    const body = { upstream: { ...UPSTREAM, scheme: 'tls', tls: { client_cert: FAKE_CERT, client_key: FAKE_KEY } } };
    const put = putObject(ctx, 'services', 'tls', body);
    assert.deepEqual((put.body.value as { upstream: { tls: object } }).upstream.tls, { client_cert: FAKE_CERT });
    assert.deepEqual((getObject(t.store, 'services', 'tls').body.value as { upstream: { tls: object } }).upstream.tls, { client_cert: FAKE_CERT });
  });
});

describe('plugin_metadata', () => {
  let t: TempStore;
  let ctx: ObjectContext;

  before(() => {
    t = tempStore();
    ctx = { store: t.store, now: () => 1700000000 };
  });
  after(() => t.close());

  it('PUT /plugin_metadata/<name>: the id is the plugin name, no timestamps; 201 then 200', () => {
    assert.deepEqual(putObject(ctx, 'plugin_metadata', 'limit-conn', { log_format: { a: '$remote_addr' } }), {
      status: 201,
      body: { key: '/apisix/plugin_metadata/limit-conn', value: { id: 'limit-conn', log_format: { a: '$remote_addr' } } },
    });
    // a body id is overwritten by the URL's, as in APISIX
    assert.deepEqual(putObject(ctx, 'plugin_metadata', 'limit-conn', { id: 'other', x: 1 }), {
      status: 200,
      body: { key: '/apisix/plugin_metadata/limit-conn', value: { id: 'limit-conn', x: 1 } },
    });
    assert.equal(listObjects(t.store, 'plugin_metadata').body.total, 1);
  });

  it("APISIX's refusals: no name, a plugin weir does not have, timestamps, POST, PATCH", () => {
    assert.deepEqual(failure(() => putObject(ctx, 'plugin_metadata', undefined, {})), [400, { error_msg: 'missing plugin name' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'plugin_metadata', 'nope', {})), [400, { error_msg: 'invalid plugin name' }]);
    assert.deepEqual(failure(() => putObject(ctx, 'plugin_metadata', 'limit-conn', { create_time: 1 })), [400, { error_msg: 'the property is forbidden:  create_time' }]);
    assert.deepEqual(failure(() => postObject(ctx, 'plugin_metadata', undefined, {})), [405, { error_msg: 'not supported `POST` method for plugin_metadata' }]);
    assert.deepEqual(failure(() => patchObject(ctx, 'plugin_metadata', 'limit-conn', '', {})), [405, { error_msg: 'not supported `PATCH` method for plugin_metadata' }]);
  });

  it('a plugin that is not enabled may still have metadata (APISIX checks the plugin exists, not that it is on)', () => {
    const none = { ...ctx, plugins: new PluginSet([]) };
    assert.equal(putObject(none, 'plugin_metadata', 'ip-restriction', {}).status, 201);
    assert.deepEqual(deleteObject(ctx, 'plugin_metadata', 'ip-restriction').body, { deleted: '1', key: '/apisix/plugin_metadata/ip-restriction' });
  });
});
