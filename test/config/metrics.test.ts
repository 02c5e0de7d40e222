// plugin_attr.prometheus and stream_plugins: when the export server runs, where, under which path, and the
// port collisions APISIX refuses at start.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

describe('prometheus export settings', () => {
  it('off unless stream_plugins lists prometheus (APISIX leaves it out of its default list)', () => {
    assert.equal(parseOk('apisix: {}\n').config.metrics, undefined);
    assert.equal(parseOk('stream_plugins: [ip-restriction, mqtt-proxy]\n').config.metrics, undefined);
    assert.equal(parseOk('plugin_attr:\n  prometheus:\n    export_addr: {port: 9300}\n').config.metrics, undefined);
  });

  it("APISIX's defaults: 127.0.0.1:9091, /apisix/prometheus/metrics, prefix apisix_", () => {
    const { config, warnings } = parseOk('stream_plugins: [prometheus]\n');
    assert.deepEqual(config.metrics, { exportAddr: { host: '127.0.0.1', port: 9091 }, exportUri: '/apisix/prometheus/metrics', prefix: 'apisix_' });
    assert.deepEqual(warnings, []);
  });

  it('reads export_addr, export_uri and metric_prefix; lists the APISIX keys it ignores', () => {
    const yaml = [
      'stream_plugins: [ip-restriction, prometheus]',
      'plugin_attr:',
      '  prometheus:',
      '    export_uri: /metrics',
      '    metric_prefix: edge_',
      '    export_addr: {ip: "::1", port: 9300}',
      '    expire: 0',
      '  log-rotate: {interval: 3600}',
    ].join('\n');
    const { config, warnings } = parseOk(yaml);
    assert.deepEqual(config.metrics, { exportAddr: { host: '::1', port: 9300 }, exportUri: '/metrics', prefix: 'edge_' });
    assert.deepEqual(warnings, ['not used by weir (ignored): plugin_attr.prometheus.expire']);
  });

  it('enable_export_server: false turns it off, with a warning', () => {
    const { config, warnings } = parseOk('stream_plugins: [prometheus]\nplugin_attr: {prometheus: {enable_export_server: false}}\n');
    assert.equal(config.metrics, undefined);
    assert.deepEqual(warnings, ['plugin_attr.prometheus.enable_export_server: false, so no metrics are served (weir has no other way to reach them)']);
  });

  const errors: Array<[string, string]> = [
    ['plugin_attr: {prometheus: {export_uri: metrics}}', 'plugin_attr.prometheus.export_uri: expected a path starting with "/", got "metrics"'],
    ['plugin_attr: {prometheus: {export_addr: {ip: "[::1]"}}}', 'plugin_attr.prometheus.export_addr.ip: expected an IP address such as "127.0.0.1" (no brackets), got "[::1]"'],
    ['plugin_attr: {prometheus: {export_addr: {port: 70000}}}', 'plugin_attr.prometheus.export_addr.port: expected an integer 1..65535, got 70000'],
    ['plugin_attr: {prometheus: {metric_prefix: "a-b"}}', 'plugin_attr.prometheus.metric_prefix: expected a Prometheus metric name prefix such as "apisix_", got "a-b"'],
    ['plugin_attr: {prometheus: []}', 'plugin_attr.prometheus: expected a mapping, got a list'],
  ];
  for (const [yaml, message] of errors) {
    it(`refuses ${yaml}`, () => {
      assert.equal(parseError(`stream_plugins: [prometheus]\n${yaml}\n`), message);
    });
  }

  it('refuses an export port the Admin API or a TCP stream listener has (APISIX: fatal)', () => {
    assert.equal(
      parseError('stream_plugins: [prometheus]\nplugin_attr: {prometheus: {export_addr: {port: 9180}}}\n'),
      "plugin_attr.prometheus.export_addr: port 9180 is also the Admin API's (deployment.admin.admin_listen)",
    );
    assert.equal(
      parseError('apisix: {stream_proxy: {tcp: [9091]}}\nstream_plugins: [prometheus]\n'),
      'plugin_attr.prometheus.export_addr: port 9091 on "127.0.0.1" is also the stream listener apisix.stream_proxy.tcp[0]',
    );
    // another address on the same port is fine
    assert.equal(parseOk('apisix: {stream_proxy: {tcp: ["127.0.0.2:9091"]}}\nstream_plugins: [prometheus]\n').config.metrics?.exportAddr.port, 9091);
  });
});
