// max_connections in config.yaml: the host key, the listener item key (TCP connections, UDP sessions), and what
// is refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk, streamYaml } from './helpers';

describe('max_connections', () => {
  it('reads apisix.stream_proxy.max_connections, absent by default', () => {
    assert.equal(parseOk('apisix:\n  stream_proxy:\n    max_connections: 500\n    tcp: [9100]\n').config.maxConnections, 500);
    assert.equal(parseOk(streamYaml(['9100'])).config.maxConnections, undefined);
  });

  it('gives every port of a listener item its own cap', () => {
    const tcp = parseOk(streamYaml(['{addr: "9100-9101", max_connections: 3}', '9102'])).config.stream.tcp;
    assert.deepEqual(tcp.map((l) => [l.port, l.maxConnections]), [[9100, 3], [9101, 3], [9102, undefined]]);
  });

  it('caps the sessions of each port of a UDP listener item (spec field maxSessions)', () => {
    const udp = parseOk(streamYaml(['9100'], ['{addr: "127.0.0.1:9200-9201", max_connections: 100}', '9202'])).config.stream.udp;
    assert.deepEqual(udp.map((l) => [l.host, l.port, l.maxSessions]), [['127.0.0.1', 9200, 100], ['127.0.0.1', 9201, 100], ['0.0.0.0', 9202, undefined]]);
  });

  for (const bad of ['0', '-1', '1.5', '"10"', 'true', '20000000']) {
    it(`refuses max_connections: ${bad}`, () => {
      assert.match(parseError(`apisix:\n  stream_proxy:\n    max_connections: ${bad}\n`), /^apisix\.stream_proxy\.max_connections: expected a whole number of connections from 1 to 10000000, got /);
      assert.match(parseError(streamYaml([`{addr: 9100, max_connections: ${bad}}`])), /^apisix\.stream_proxy\.tcp\[0\]\.max_connections: expected a whole number/);
      assert.match(parseError(streamYaml(['9100'], [`{addr: 9200, max_connections: ${bad}}`])), /^apisix\.stream_proxy\.udp\[0\]\.max_connections: expected a whole number/);
    });
  }
});
