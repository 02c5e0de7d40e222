// A route's or service's `plugins` map: APISIX's messages for a conf that is not an object, a name not in
// stream_plugins, and a conf its plugin refuses (unless `_meta.disable`); skipUnknown for stored rows.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkPlugins } from '../../src/schema/plugins';
import { DEFAULT_PLUGINS, DEFAULT_STREAM_PLUGINS, PluginSet } from '../../src/plugins/registry';

const LIMIT = { conn: 1, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' };

describe('checkPlugins', () => {
  it('enables APISIX default list plus limit-bandwidth, all of which weir has (prometheus is not in it)', () => {
    assert.deepEqual(DEFAULT_STREAM_PLUGINS, ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'syslog', 'traffic-split', 'limit-bandwidth']);
    assert.deepEqual(DEFAULT_PLUGINS.list().map((p) => [p.name, p.priority]), [
      ['ip-restriction', 3000], ['limit-conn', 1003], ['limit-bandwidth', 1002], ['mqtt-proxy', 1000], ['traffic-split', 966], ['syslog', 401],
    ]);
  });

  it('accepts valid confs of enabled plugins', () => {
    assert.equal(checkPlugins({ 'ip-restriction': { whitelist: ['127.0.0.1'] }, 'limit-conn': LIMIT, 'traffic-split': {}, 'limit-bandwidth': { rate: 1000 } }), null);
  });

  it('reports the first unknown name in key order', () => {
    assert.equal(checkPlugins({ 'limit-conn': LIMIT, 'mqttt-proxy': {}, zzz: {} }), 'unknown plugin [mqttt-proxy]');
  });

  it('an implemented plugin left out of stream_plugins is unknown too (APISIX: not loaded)', () => {
    const set = new PluginSet(['limit-conn']);
    assert.equal(checkPlugins({ 'ip-restriction': { whitelist: ['127.0.0.1'] } }, { plugins: set }), 'unknown plugin [ip-restriction]');
    assert.deepEqual(set.unknown, []);
    assert.deepEqual(new PluginSet(['limit-conn', 'nope']).unknown, ['nope']);
  });

  it('skipUnknown passes names that are not enabled, but still checks the enabled ones', () => {
    const set = new PluginSet(['limit-conn']);
    assert.equal(checkPlugins({ 'ip-restriction': { whitelist: ['x'] }, zzz: {} }, { plugins: set, skipUnknown: true }), null);
    assert.equal(
      checkPlugins({ zzz: {}, 'limit-conn': {} }, { plugins: set, skipUnknown: true }),
      'failed to check the configuration of stream plugin [limit-conn]: property "conn" is required',
    );
  });

  it("a conf its plugin refuses: APISIX's prefix around the jsonschema message", () => {
    assert.equal(
      checkPlugins({ 'ip-restriction': {} }),
      'failed to check the configuration of stream plugin [ip-restriction]: value should match only one schema, but matches none',
    );
  });

  it('_meta.disable: true accepts a conf its plugin would refuse (it never runs)', () => {
    assert.equal(checkPlugins({ 'ip-restriction': { _meta: { disable: true } } }), null);
    assert.equal(
      checkPlugins({ 'ip-restriction': { _meta: { disable: false } } }),
      'failed to check the configuration of stream plugin [ip-restriction]: value should match only one schema, but matches none',
    );
  });

  it('_meta is checked for every plugin (APISIX injects it into each schema)', () => {
    assert.equal(
      checkPlugins({ 'limit-bandwidth': { rate: 1, _meta: { disable: 'yes' } } }),
      'failed to check the configuration of stream plugin [limit-bandwidth]: property "_meta" validation failed: property "disable" validation failed: wrong type: expected boolean, got string',
    );
    assert.equal(
      checkPlugins({ 'limit-bandwidth': { rate: 1, _meta: { foo: 1 } } }),
      'failed to check the configuration of stream plugin [limit-bandwidth]: property "_meta" validation failed: additional properties forbidden, found foo',
    );
    assert.equal(checkPlugins({ 'limit-bandwidth': { rate: 1, _meta: { priority: 5, filter: [], error_response: 'x' } } }), null);
  });

  const confs: [unknown, string][] = [
    [true, 'true'], [0, '0'], ['x', '"x"'], [null, 'null'], [[], '[]'], [[{ a: 1 }], '[{"a":1}]'],
  ];
  for (const [conf, json] of confs) {
    it(`conf ${json} is not an object`, () => {
      assert.equal(checkPlugins({ 'limit-conn': conf }), `invalid plugin conf ${json} for plugin [limit-conn]`);
      assert.equal(checkPlugins({ nope: conf }), `invalid plugin conf ${json} for plugin [nope]`);
    });
  }
});
