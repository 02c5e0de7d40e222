// GET /apisix/admin/plugins/list and /apisix/admin/plugins/{name} as APISIX answers them (apisix/admin/plugins.lua),
// for the default stream_plugins and for a config that enables fewer; services and plugin_metadata over HTTP;
// PUT /apisix/admin/plugins/reload's answers (apisix/admin/init.lua; what it applies: test/e2e/plugin-reload.test.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VIEWER_KEY, startAdmin, testConfig, type AdminHarness } from './harness';

const A = '/apisix/admin';

describe('Admin API: plugins (default stream_plugins)', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(() => h.close());

  it('list?subsystem=stream: enabled stream plugins by priority, highest first', async () => {
    const r = await h.call('GET', `${A}/plugins/list?subsystem=stream`);
    assert.deepEqual([r.status, r.json], [200, ['ip-restriction', 'limit-conn', 'limit-bandwidth', 'mqtt-proxy', 'traffic-split', 'syslog']]);
    assert.equal(r.headers.get('x-api-version'), 'v3');
  });

  it('list without subsystem is http (weir has none); a bad subsystem gets the bare-string 400', async () => {
    const http = await h.call('GET', `${A}/plugins/list`);
    assert.deepEqual([http.status, http.json], [200, []]);
    const bad = await h.call('GET', `${A}/plugins/list?subsystem=udp`);
    assert.deepEqual([bad.status, bad.text], [400, 'invalid subsystem passed']);
  });

  it('{name}?subsystem=stream: the JSON Schema with APISIX\'s injected _meta', async () => {
    const r = await h.call('GET', `${A}/plugins/ip-restriction?subsystem=stream`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.oneOf, [{ required: ['whitelist'] }, { required: ['blacklist'] }]);
    assert.deepEqual(Object.keys(r.json.properties), ['message', 'response_code', 'whitelist', 'blacklist', '_meta']);
    assert.equal(r.json.properties._meta.additionalProperties, false);
    assert.equal(r.json.$comment, 'this is a mark for our injected plugin schema');
    const lc = await h.call('GET', `${A}/plugins/limit-conn?subsystem=stream`);
    assert.deepEqual(lc.json.required, ['conn', 'burst', 'default_conn_delay', 'key']);
    assert.deepEqual(lc.json.properties.key_type, { type: 'string', enum: ['var', 'var_combination'], default: 'var' });
  });

  it('{name}: 404 outside the enabled set or the subsystem, 400 for a bad subsystem or a consumer schema', async () => {
    const cases: Array<[string, number, unknown]> = [
      ['prometheus?subsystem=stream', 404, { error_msg: 'plugin not found in subsystem stream' }],
      ['ip-restriction', 404, { error_msg: 'plugin not found in subsystem http' }],
      ['ip-restriction?subsystem=x', 400, { error_msg: 'unsupported subsystem: x' }],
      ['limit-conn?subsystem=stream&schema_type=consumer', 400, { error_msg: 'not found schema' }],
    ];
    for (const [path, status, body] of cases) {
      const r = await h.call('GET', `${A}/plugins/${path}`);
      assert.deepEqual([r.status, r.json], [status, body], path);
    }
  });

  it('?all=true&subsystem=stream: every enabled plugin with priority and schema', async () => {
    const r = await h.call('GET', `${A}/plugins/x?all=true&subsystem=stream`);
    assert.deepEqual(Object.keys(r.json), ['ip-restriction', 'limit-conn', 'limit-bandwidth', 'mqtt-proxy', 'traffic-split', 'syslog']);
    assert.equal(r.json['limit-conn'].priority, 1003);
  });

  it('a viewer key may read them; no key may not', async () => {
    assert.equal((await h.call('GET', `${A}/plugins/list?subsystem=stream`, undefined, VIEWER_KEY)).status, 200);
    assert.equal((await h.call('GET', `${A}/plugins/list?subsystem=stream`, undefined, null)).status, 401);
  });

  it('services and plugin_metadata are resources like the others', async () => {
    const s = await h.call('PUT', `${A}/services/1`, { upstream: { nodes: { '127.0.0.1:1995': 1 } }, plugins: { 'limit-conn': { conn: 1, burst: 0, default_conn_delay: 1, key: 'remote_addr' } } });
    assert.equal(s.status, 201);
    assert.equal((await h.call('PUT', `${A}/stream_routes/1`, { service_id: '1' })).status, 201);
    const del = await h.call('DELETE', `${A}/services/1`);
    assert.deepEqual([del.status, del.json], [400, { error_msg: 'can not delete this service directly, stream_route [1] is still using it now' }]);
    const m = await h.call('PUT', `${A}/plugin_metadata/limit-conn`, { a: 1 });
    assert.deepEqual([m.status, m.json], [201, { key: '/apisix/plugin_metadata/limit-conn', value: { id: 'limit-conn', a: 1 } }]);
    const post = await h.call('POST', `${A}/plugin_metadata`, { a: 1 });
    assert.deepEqual([post.status, post.json], [405, { error_msg: 'not supported `POST` method for plugin_metadata' }]);
    const valid = await h.call('POST', `${A}/schema/validate/services`, { plugins: { nope: {} } });
    assert.deepEqual([valid.status, valid.json], [400, { error_msg: 'unknown plugin [nope]' }]);
  });
});

describe('Admin API: plugins with stream_plugins: [limit-conn]', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin({ ...testConfig(), streamPlugins: ['limit-conn'] });
  });
  after(() => h.close());

  it('lists only limit-conn, finds no other, and refuses routes naming another', async () => {
    assert.deepEqual((await h.call('GET', `${A}/plugins/list?subsystem=stream`)).json, ['limit-conn']);
    assert.equal((await h.call('GET', `${A}/plugins/ip-restriction?subsystem=stream`)).status, 404);
    const r = await h.call('PUT', `${A}/stream_routes/1`, { plugins: { 'ip-restriction': { whitelist: ['127.0.0.1'] } } });
    assert.deepEqual([r.status, r.json], [400, { error_msg: 'unknown plugin [ip-restriction]' }]);
  });
});

describe('Admin API: PUT /apisix/admin/plugins/reload', () => {
  let h: AdminHarness;
  let outcome = { ok: true, errors: [] as string[] };
  let calls = 0;
  before(async () => {
    h = await startAdmin(undefined, undefined, () => ({
      reloadPlugins: async () => {
        calls++;
        return outcome;
      },
    }));
  });
  after(() => h.close());

  it('answers the bare string "done" once the reload ran', async () => {
    const r = await h.call('PUT', `${A}/plugins/reload`);
    assert.deepEqual([r.status, r.text, calls], [200, 'done', 1]);
  });

  it('other methods: 405 with APISIX\'s message, nothing reloaded', async () => {
    for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) {
      const r = await h.call(method, `${A}/plugins/reload`);
      assert.deepEqual([r.status, r.json], [405, { error_msg: `please use PUT method to reload the plugins, ${method} method is not allowed.` }], method);
    }
    assert.equal(calls, 1);
  });

  it('behind the admin key: none or a viewer key is 401 and reloads nothing', async () => {
    assert.equal((await h.call('PUT', `${A}/plugins/reload`, undefined, null)).status, 401);
    const viewer = await h.call('PUT', `${A}/plugins/reload`, undefined, VIEWER_KEY);
    assert.deepEqual([viewer.status, viewer.json], [401, { error_msg: 'failed to check token', description: 'invalid method for role viewer' }]);
    assert.equal(calls, 1);
  });

  it('a refused reload (config file invalid, export port taken): 503 with the reasons', async () => {
    outcome = { ok: false, errors: ['plugin_attr.prometheus.export_addr: bad', 'other'] };
    const r = await h.call('PUT', `${A}/plugins/reload`);
    assert.deepEqual([r.status, r.json], [503, { error_msg: 'failed to reload plugins: plugin_attr.prometheus.export_addr: bad; other' }]);
    outcome = { ok: true, errors: [] };
  });

  it('an Admin API without a config to read (the tests\' bare app) answers 503', async () => {
    const bare = await startAdmin();
    try {
      const r = await bare.call('PUT', `${A}/plugins/reload`);
      assert.deepEqual([r.status, r.json], [503, { error_msg: 'failed to reload plugins: this Admin API has no config file to read' }]);
    } finally {
      await bare.close();
    }
  });
});
