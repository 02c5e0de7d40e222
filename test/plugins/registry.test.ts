// The plugin registry (t/stream-plugin/plugin.t TEST 1-2): every module is named after its file, priorities are
// unique (weir's limit-bandwidth included, against every APISIX stream plugin), compiled filters carry the
// module's name and priority, and each module's JSON Schema names the same fields its valibot schema checks.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PLUGIN_MODULES, findPlugin } from '../../src/plugins/registry';
import { checkPluginConf } from '../../src/plugins/schema';
import { testContext } from './plugin.cases';

/** APISIX's stream plugins and their priorities (apisix/stream/plugins/*.lua). */
const APISIX_STREAM: Record<string, number> = {
  'ip-restriction': 3000, 'limit-conn': 1003, 'mqtt-proxy': 1000, 'traffic-split': 966, prometheus: 500, syslog: 401,
};

/** A valid conf per plugin, to compile. */
const SAMPLE: Record<string, Record<string, unknown>> = {
  'ip-restriction': { whitelist: ['127.0.0.1'] },
  'limit-conn': { conn: 1, burst: 0, default_conn_delay: 1, key: 'remote_addr' },
  'limit-bandwidth': { rate: 1 },
  'traffic-split': {},
  'mqtt-proxy': { protocol_level: 4 },
  syslog: { host: '127.0.0.1', port: 5044 },
  prometheus: {},
};

describe('plugin registry', () => {
  it('plugin.t TEST 1: every plugin is named after its file', () => {
    for (const p of PLUGIN_MODULES) assert.ok(existsSync(`src/plugins/${p.name}.ts`), p.name);
  });

  it('plugin.t TEST 2: priorities are unique, and APISIX\'s plugins keep APISIX\'s', () => {
    const all = new Map<number, string>(Object.entries(APISIX_STREAM).map(([n, p]) => [p, n]));
    for (const p of PLUGIN_MODULES) {
      if (p.name in APISIX_STREAM) assert.equal(p.priority, APISIX_STREAM[p.name], p.name);
      else {
        assert.equal(p.extension, true, `${p.name} is weir's own`);
        assert.equal(all.has(p.priority), false, `${p.name} shares priority ${p.priority} with ${all.get(p.priority)}`);
        all.set(p.priority, p.name);
      }
    }
  });

  it('compiled filters carry the module\'s name and priority', () => {
    for (const p of PLUGIN_MODULES) {
      const conf = SAMPLE[p.name]!;
      assert.equal(checkPluginConf(p, conf), null, p.name);
      const f = p.compile(conf, testContext());
      assert.deepEqual([f.name, f.priority], [p.name, p.priority]);
    }
  });

  it('each JSON Schema lists the fields the plugin checks, and its required ones are required', () => {
    for (const p of PLUGIN_MODULES) {
      const props = Object.keys(p.jsonSchema.properties as object);
      const required = (p.jsonSchema.required ?? []) as string[];
      for (const name of required) assert.ok(props.includes(name), `${p.name}: required ${name} is a property`);
      for (const name of required) {
        const conf = { ...SAMPLE[p.name] };
        delete conf[name];
        assert.equal(checkPluginConf(p, conf), `property "${name}" is required`, `${p.name} without ${name}`);
      }
      // a field of the wrong type is refused for every property the JSON Schema names (an object where none
      // is expected, a string for an object property such as syslog's log_format)
      for (const name of props) {
        const isObject = (p.jsonSchema.properties as Record<string, { type?: unknown }>)[name]?.type === 'object';
        const problem = checkPluginConf(p, { ...SAMPLE[p.name], [name]: isObject ? 'not this' : { surely: 'not this' } });
        assert.ok(problem !== null && problem.includes(`"${name}"`), `${p.name}.${name}: ${problem}`);
      }
    }
  });

  it('findPlugin knows implemented plugins only', () => {
    assert.equal(findPlugin('limit-conn')?.priority, 1003);
    assert.equal(findPlugin('prometheus')?.priority, 500);
    assert.equal(findPlugin('kafka-logger'), undefined);
  });
});
