// Stream plugin map checks: the known list and APISIX's two messages.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STREAM_PLUGINS, checkPlugins } from '../../src/schema/plugins';

describe('checkPlugins', () => {
  it('knows exactly the stream plugins weir plans to ship', () => {
    assert.deepEqual([...STREAM_PLUGINS].sort(), ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'prometheus', 'syslog', 'traffic-split']);
  });

  it('accepts every known plugin with an object conf', () => {
    assert.equal(checkPlugins(Object.fromEntries(STREAM_PLUGINS.map((n) => [n, {}]))), null);
  });

  it('reports the first unknown name in key order', () => {
    assert.equal(checkPlugins({ prometheus: {}, 'mqttt-proxy': {}, zzz: {} }), 'unknown plugin [mqttt-proxy]');
  });

  const confs: [unknown, string][] = [
    [true, 'true'], [0, '0'], ['x', '"x"'], [null, 'null'], [[], '[]'], [[{ a: 1 }], '[{"a":1}]'],
  ];
  for (const [conf, json] of confs) {
    it(`conf ${json} is not an object`, () => {
      assert.equal(checkPlugins({ 'limit-conn': conf }), `invalid plugin conf ${json} for plugin [limit-conn]`);
    });
  }
});
