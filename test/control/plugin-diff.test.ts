// What a reload changes in the stream plugins: the chains compiled again, the metrics and the export server's
// step, for each kind of edit of stream_plugins and plugin_attr; and the config PUT /apisix/admin/plugins/reload
// applies (the plugin keys of the file, nothing else).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diffPlugins, withPluginKeys } from '../../src/control/plugin-diff';
import { diffConfig } from '../../src/control/config-diff';
import { parseOk } from '../config/helpers';

const base = `apisix:
  stream_proxy:
    tcp: ["127.0.0.1:9100"]
deployment:
  admin:
    admin_listen: {ip: 127.0.0.1, port: 9180}
`;
const config = (top = '') => parseOk(`${base}${top}`).config;
const withProm = (attr = '') => config(`stream_plugins: [limit-conn, prometheus, syslog]\n${attr ? `plugin_attr:\n  prometheus:\n${attr}` : ''}`);

describe('diffPlugins', () => {
  it('the same keys change nothing', () => {
    assert.deepEqual(diffPlugins(withProm(), withProm()), { changed: false, recompile: [], metrics: 'keep', exportServer: 'keep' });
  });

  // table: edit -> what is compiled again, and the metrics / export server steps
  const cases: Array<[string, string, string, Omit<ReturnType<typeof diffPlugins>, 'changed'>]> = [
    ['default list -> a shorter one', '', 'stream_plugins: [limit-conn, syslog]', { recompile: ['ip-restriction', 'limit-bandwidth', 'mqtt-proxy', 'traffic-split'], metrics: 'keep', exportServer: 'keep' }],
    ['a plugin added (not prometheus)', 'stream_plugins: [limit-conn]', 'stream_plugins: [limit-conn, syslog]', { recompile: ['syslog'], metrics: 'keep', exportServer: 'keep' }],
    ['prometheus added: every chain (the metrics are new)', 'stream_plugins: [limit-conn]', 'stream_plugins: [limit-conn, prometheus]', { recompile: 'all', metrics: 'start', exportServer: 'start' }],
    ['prometheus removed', 'stream_plugins: [prometheus]', 'stream_plugins: [limit-conn]', { recompile: 'all', metrics: 'stop', exportServer: 'stop' }],
    ['enable_export_server: false', 'stream_plugins: [prometheus]', 'stream_plugins: [prometheus]\nplugin_attr: {prometheus: {enable_export_server: false}}', { recompile: 'all', metrics: 'stop', exportServer: 'stop' }],
    ['export_addr port', 'stream_plugins: [prometheus]', 'stream_plugins: [prometheus]\nplugin_attr: {prometheus: {export_addr: {port: 9092}}}', { recompile: ['prometheus'], metrics: 'keep', exportServer: 'move' }],
    ['export_uri only', 'stream_plugins: [prometheus]', 'stream_plugins: [prometheus]\nplugin_attr: {prometheus: {export_uri: /m}}', { recompile: ['prometheus'], metrics: 'keep', exportServer: 'path' }],
    ['metric_prefix', 'stream_plugins: [prometheus]', 'stream_plugins: [prometheus]\nplugin_attr: {prometheus: {metric_prefix: edge_}}', { recompile: 'all', metrics: 'renew', exportServer: 'keep' }],
    ['another plugin\'s attr', 'stream_plugins: [syslog]', 'stream_plugins: [syslog]\nplugin_attr: {syslog: {x: 1}}', { recompile: ['syslog'], metrics: 'keep', exportServer: 'keep' }],
    ['only the order of the list', 'stream_plugins: [limit-conn, syslog]', 'stream_plugins: [syslog, limit-conn]', { recompile: [], metrics: 'keep', exportServer: 'keep' }],
  ];
  for (const [name, before, after, want] of cases) {
    it(name, () => {
      assert.deepEqual(diffPlugins(config(before), config(after)), { changed: true, ...want });
    });
  }
});

describe('diffConfig: the plugin keys change live', () => {
  it('stream_plugins and plugin_attr are applied, not kept', () => {
    const d = diffConfig(config('stream_plugins: [limit-conn]'), withProm('    export_addr: {port: 9092}\n'));
    assert.deepEqual([d.live, d.kept], [['stream_plugins', 'plugin_attr'], []]);
    assert.deepEqual(d.effective.metrics, { exportAddr: { host: '127.0.0.1', port: 9092 }, exportUri: '/apisix/prometheus/metrics', prefix: 'apisix_' });
  });
});

describe('withPluginKeys (PUT /apisix/admin/plugins/reload)', () => {
  it('takes stream_plugins, plugin_attr and the export settings from the file, and nothing else', () => {
    const current = config('stream_plugins: [prometheus]\nplugin_attr: {prometheus: {export_uri: /m}}\nnginx_config: {worker_shutdown_timeout: 10s}');
    const file = parseOk(`${base.replace('9100', '9101')}stream_plugins: [limit-conn]\nnginx_config: {worker_shutdown_timeout: 20s}`).config;
    const out = withPluginKeys(current, file);
    const { pluginAttr: _attr, metrics: _metrics, ...rest } = current;
    assert.deepEqual(out, { ...rest, streamPlugins: ['limit-conn'] });
    assert.deepEqual(diffConfig(current, out).live, ['stream_plugins', 'plugin_attr']);
  });

  it('back to the default list when the file has no stream_plugins', () => {
    const out = withPluginKeys(config('stream_plugins: [syslog]'), config());
    assert.equal(out.streamPlugins, undefined);
    assert.deepEqual(diffConfig(config('stream_plugins: [syslog]'), out).live, ['stream_plugins']);
  });
});
