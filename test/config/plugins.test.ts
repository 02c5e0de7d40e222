// stream_plugins and plugin_attr in config.yaml: kept as written, absent means weir's default list, wrong shapes
// name the key.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/parse';
import { ConfigError } from '../../src/config/types';
import { pluginSetOf } from '../../src/plugins/registry';
import { HELP } from '../../src/cli/help';

const parse = (text: string) => parseConfig(text, 'test.yaml', {});

describe('stream_plugins', () => {
  it('absent (or empty): no key in the config, and the default list is enabled', () => {
    for (const text of ['', 'stream_plugins:\n']) {
      const { config, warnings } = parse(text);
      assert.equal('streamPlugins' in config, false);
      assert.deepEqual(warnings, []);
      assert.deepEqual(pluginSetOf(config).list().map((p) => p.name), ['ip-restriction', 'limit-conn', 'limit-bandwidth', 'mqtt-proxy', 'traffic-split', 'syslog']);
    }
  });

  it('a list is kept in order without repeats; names weir lacks are kept for the start-up warning', () => {
    const { config } = parse('stream_plugins:\n  - limit-conn\n  - kafka-logger\n  - limit-conn\n');
    assert.deepEqual(config.streamPlugins, ['limit-conn', 'kafka-logger']);
    const set = pluginSetOf(config);
    assert.deepEqual(set.list().map((p) => p.name), ['limit-conn']);
    assert.deepEqual(set.unknown, ['kafka-logger']);
  });

  it('an empty list enables nothing', () => {
    assert.deepEqual(pluginSetOf(parse('stream_plugins: []\n').config).list(), []);
  });

  it('refuses what is not a list of names', () => {
    assert.throws(() => parse('stream_plugins: ip-restriction\n'), (e: unknown) => e instanceof ConfigError && e.message === 'stream_plugins: expected a list of plugin names, got "ip-restriction"');
    assert.throws(() => parse('stream_plugins: [ip-restriction, 5]\n'), (e: unknown) => e instanceof ConfigError && e.message === 'stream_plugins[1]: expected a plugin name, got 5');
  });
});

describe('plugin_attr', () => {
  it('is kept per plugin as written', () => {
    const { config } = parse('plugin_attr:\n  prometheus:\n    export_addr: {ip: 127.0.0.1, port: 9091}\n    prefer_name: true\n');
    assert.deepEqual(config.pluginAttr, { prometheus: { export_addr: { ip: '127.0.0.1', port: 9091 }, prefer_name: true } });
  });

  it('refuses a plugin entry that is not a mapping', () => {
    assert.throws(() => parse('plugin_attr:\n  prometheus: 5\n'), (e: unknown) => e instanceof ConfigError && e.message === 'plugin_attr.prometheus: expected a mapping, got 5');
  });

  it('--help names both keys', () => {
    assert.match(HELP, /stream_plugins/);
    assert.match(HELP, /plugin_attr/);
  });
});
