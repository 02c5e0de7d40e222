// The listeners a process should have: config first, stored objects in id order, skipped rows with their reason,
// the overlay of a write being bound, and the read-only config entries of the Admin API.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configListenerObjects, desiredListeners, objectIdOf, objectOrigin, servedPorts } from '../../src/control/listener-specs';
import type { StoredObject } from '../../src/store/types';
import { parseOk, streamYaml } from '../config/helpers';

function row(id: string, value: Record<string, unknown>): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}

const config = parseOk(streamYaml(['"127.0.0.1:9100"', '{addr: "127.0.0.1:9443", tls: true}', '"127.0.0.1:2000-2001"'], ['9200'])).config;

describe('desiredListeners', () => {
  it('config listeners first, then objects in id order, with their flags and policy', () => {
    const d = desiredListeners(config, [
      row('b', { addr: 9300, protocol: 'udp', on_change: { action: 'close' } }),
      row('a', { addr: '127.0.0.1:9101', tls_passthrough: true, proxy_protocol: true, on_change: { action: 'drain', drain_timeout: 2 } }),
    ].sort((x, y) => (x.id < y.id ? -1 : 1)));
    assert.deepEqual(d.tcp.map((s) => s.origin), ['apisix.stream_proxy.tcp[0]', 'apisix.stream_proxy.tcp[1]', 'apisix.stream_proxy.tcp[2]', 'apisix.stream_proxy.tcp[2]', 'stream_listeners/a']);
    assert.deepEqual(d.tcp[4], {
      host: '127.0.0.1',
      port: 9101,
      tls: false,
      tlsPassthrough: true,
      proxyProtocol: true,
      origin: 'stream_listeners/a',
      onChange: { action: 'drain', drainMs: 2000 },
    });
    assert.deepEqual(d.udp, [
      { host: '0.0.0.0', port: 9200, origin: 'apisix.stream_proxy.udp[0]' },
      { host: '0.0.0.0', port: 9300, origin: 'stream_listeners/b', onChange: { action: 'close', drainMs: 0 } },
    ]);
    assert.deepEqual(d.skipped, []);
    assert.deepEqual([...servedPorts(d)].sort(), [2000, 2001, 9100, 9101, 9200, 9300, 9443]);
  });

  it('skips invalid rows and addresses already listed (same protocol), naming who has them', () => {
    const rows = [row('a', { addr: '127.0.0.1:9100' }), row('b', { addr: 9100, protocol: 'udp' }), row('c', { addr: 'x' }), row('d', { addr: 9300 }), row('e', { addr: 9300 })];
    const d = desiredListeners(config, rows);
    assert.deepEqual(d.tcp.slice(4).map((s) => s.origin), ['stream_listeners/d']);
    assert.deepEqual(d.udp.slice(1).map((s) => s.origin), ['stream_listeners/b']);
    assert.deepEqual(
      d.skipped.map((s) => [s.id, s.problem]),
      [
        ['a', 'tcp 127.0.0.1:9100 is already served by apisix.stream_proxy.tcp[0]'],
        ['c', 'invalid configuration: property "addr" validation failed: "x" is not a valid listen address (expected a port like 9100, "ip:port", "[ipv6]:port" or a range like "2000-2100")'],
        ['e', 'tcp 0.0.0.0:9300 is already served by stream_listeners/d'],
      ],
    );
    assert.equal(d.skipped[0]!.raw, rows[0]!.raw);
  });

  it('an overlay replaces or adds one object; exclude leaves rows out', () => {
    const rows = [row('a', { addr: 9301 }), row('c', { addr: 9303 })];
    const replaced = desiredListeners(config, rows, { overlay: { id: 'a', value: { id: 'a', addr: 9401 } } });
    assert.deepEqual(replaced.tcp.slice(4).map((s) => [s.origin, s.port]), [['stream_listeners/a', 9401], ['stream_listeners/c', 9303]]);
    const added = desiredListeners(config, rows, { overlay: { id: 'b', value: { id: 'b', addr: 9402 } }, exclude: (r) => r.id === 'c' });
    assert.deepEqual(added.tcp.slice(4).map((s) => [s.origin, s.port]), [['stream_listeners/a', 9301], ['stream_listeners/b', 9402]]);
  });
});

describe('max_connections on listener objects and config items', () => {
  it('an object\'s max_connections caps its TCP connections or its UDP sessions; the config\'s items show theirs', () => {
    const capped = parseOk(streamYaml(['{addr: "127.0.0.1:9100", max_connections: 5}'], ['{addr: 9200, max_connections: 7}', '9201'])).config;
    const d = desiredListeners(capped, [row('t', { addr: 9300, max_connections: 2 }), row('u', { addr: 9301, protocol: 'udp', max_connections: 3 })]);
    assert.deepEqual(d.tcp.map((s) => [s.origin, s.maxConnections]), [['apisix.stream_proxy.tcp[0]', 5], ['stream_listeners/t', 2]]);
    assert.deepEqual(d.udp.map((s) => [s.origin, s.maxSessions]), [['apisix.stream_proxy.udp[0]', 7], ['apisix.stream_proxy.udp[1]', undefined], ['stream_listeners/u', 3]]);
    assert.deepEqual(configListenerObjects(capped).map((o) => [o.id, o.value.max_connections]), [['config:tcp:0', 5], ['config:udp:0', 7], ['config:udp:1', undefined]]);
  });
});

describe('configListenerObjects', () => {
  it('one read-only object per config item, a range as one', () => {
    assert.deepEqual(
      configListenerObjects(config).map((o) => o.value),
      [
        { id: 'config:tcp:0', addr: '127.0.0.1:9100', protocol: 'tcp', tls: false, tls_passthrough: false, source: 'apisix.stream_proxy.tcp[0]', desc: 'from apisix.stream_proxy.tcp[0] in test.yaml: read-only here, edit the config file and reload' },
        { id: 'config:tcp:1', addr: '127.0.0.1:9443', protocol: 'tcp', tls: true, tls_passthrough: false, source: 'apisix.stream_proxy.tcp[1]', desc: 'from apisix.stream_proxy.tcp[1] in test.yaml: read-only here, edit the config file and reload' },
        { id: 'config:tcp:2', addr: '127.0.0.1:2000-2001', protocol: 'tcp', tls: false, tls_passthrough: false, source: 'apisix.stream_proxy.tcp[2]', desc: 'from apisix.stream_proxy.tcp[2] in test.yaml: read-only here, edit the config file and reload' },
        { id: 'config:udp:0', addr: '0.0.0.0:9200', protocol: 'udp', source: 'apisix.stream_proxy.udp[0]', desc: 'from apisix.stream_proxy.udp[0] in test.yaml: read-only here, edit the config file and reload' },
      ],
    );
  });

  it('origins name objects and back', () => {
    assert.equal(objectOrigin('x1'), 'stream_listeners/x1');
    assert.equal(objectIdOf('stream_listeners/x1'), 'x1');
    assert.equal(objectIdOf('apisix.stream_proxy.tcp[0]'), null);
  });
});
