// Listener views for explain: bound ports joined with their TLS modes and PROXY flags (config items and
// stream_listeners objects alike), and which listener takes an address.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeListener, findListener, listenerViews } from '../../src/inspect/listeners';

describe('listeners', () => {
  const views = listenerViews(
    {
      tcp: [
        { host: '127.0.0.1', port: 0, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
        { host: '0.0.0.0', port: 9443, tls: true, tlsPassthrough: true, origin: 'apisix.stream_proxy.tcp[1]' },
        { host: '::', port: 9100, tls: false, proxyProtocol: true, origin: 'apisix.stream_proxy.tcp[2]' },
        // a stream_listeners object's spec (src/control/listener-specs.ts): the same fields
        { host: '127.0.0.1', port: 9102, tls: false, proxyProtocol: true, proxyProtocolToUpstream: true, origin: 'stream_listeners/pp' },
      ],
      udp: [
        { host: '127.0.0.1', port: 53, proxyProtocol: true, origin: 'apisix.stream_proxy.udp[0]' },
        { host: '127.0.0.1', port: 54, proxyProtocolToUpstream: true, origin: 'stream_listeners/dns' },
      ],
    },
    {
      tcp: [
        { host: '127.0.0.1', port: 41000, origin: 'apisix.stream_proxy.tcp[0]' },
        { host: '0.0.0.0', port: 9443, origin: 'apisix.stream_proxy.tcp[1]' },
        { host: '::', port: 9100, origin: 'apisix.stream_proxy.tcp[2]' },
        { host: '127.0.0.1', port: 9102, origin: 'stream_listeners/pp' },
      ],
      udp: [
        { host: '127.0.0.1', port: 53, origin: 'apisix.stream_proxy.udp[0]' },
        { host: '127.0.0.1', port: 54, origin: 'stream_listeners/dns' },
      ],
    },
  );

  it('uses the bound port and the spec TLS mode', () => {
    assert.deepEqual(views.map(describeListener), [
      'tcp 127.0.0.1:41000 (apisix.stream_proxy.tcp[0])',
      'tcp 0.0.0.0:9443 (apisix.stream_proxy.tcp[1], tls mixed)',
      'tcp [::]:9100 (apisix.stream_proxy.tcp[2])',
      'tcp 127.0.0.1:9102 (stream_listeners/pp)',
      'udp 127.0.0.1:53 (apisix.stream_proxy.udp[0])',
      'udp 127.0.0.1:54 (stream_listeners/dns)',
    ]);
  });

  it('carries proxy_protocol and proxy_protocol_to_upstream for TCP and UDP, config items and objects alike', () => {
    assert.deepEqual(views.map((v) => [v.proxyProtocol === true, v.proxyProtocolToUpstream === true]), [
      [false, false], [false, false], [true, false], [true, true], [true, false], [false, true],
    ]);
  });

  it('finds the listener of an address: exact, then a wildcard that takes the family', () => {
    const at = (p: 'tcp' | 'udp', a: string, port: number) => findListener(views, p, a, port)?.origin ?? null;
    assert.equal(at('tcp', '127.0.0.1', 41000), 'apisix.stream_proxy.tcp[0]');
    assert.equal(at('tcp', '127.0.0.2', 41000), null);
    assert.equal(at('tcp', '10.1.2.3', 9443), 'apisix.stream_proxy.tcp[1]');
    assert.equal(at('tcp', '2001:db8::1', 9443), null);
    assert.equal(at('tcp', '2001:db8::1', 9100), 'apisix.stream_proxy.tcp[2]');
    assert.equal(at('tcp', '10.1.2.3', 9100), 'apisix.stream_proxy.tcp[2]');
    assert.equal(at('udp', '127.0.0.1', 53), 'apisix.stream_proxy.udp[0]');
    assert.equal(at('tcp', '127.0.0.1', 53), null);
  });
});
