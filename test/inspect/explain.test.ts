// Reading explain's question: required fields, defaults taken from the listener, addresses as the runtime reports
// them; and the PROXY protocol: on a proxy_protocol listener the declared source is the client (after the
// real_ip_from check of the proxy), on any other listener the proxy itself is.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainConnection, parseExplainInput } from '../../src/inspect/explain';
import type { ListenerView } from '../../src/inspect/listeners';
import { buildSnapshot } from '../../src/snapshot/build';
import type { JsonObject, StoredObject } from '../../src/store/types';
import type { ConnInfo } from '../../src/snapshot/types';

const listeners: ListenerView[] = [
  { protocol: 'tcp', host: '10.9.9.9', port: 9100, tls: null, origin: 'a' },
  { protocol: 'tcp', host: '0.0.0.0', port: 9200, tls: null, origin: 'b' },
];

describe('parseExplainInput', () => {
  it('takes server_addr from a listener bound to one address, else loopback', () => {
    assert.deepEqual(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100' }, listeners), {
      protocol: 'tcp', remoteAddr: '10.0.0.7', remotePort: 0, serverAddr: '10.9.9.9', serverPort: 9100, sni: null,
    });
    assert.equal((parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9200' }, listeners) as { serverAddr: string }).serverAddr, '127.0.0.1');
  });

  it('unwraps IPv4-mapped addresses in either spelling and normalises the SNI', () => {
    const info = parseExplainInput({ remote_addr: '::ffff:a00:7', server_addr: '::ffff:127.0.0.1', server_port: '9100', remote_port: '5000', sni: 'A.Test.COM.' }, listeners);
    assert.deepEqual(info, { protocol: 'tcp', remoteAddr: '10.0.0.7', remotePort: 5000, serverAddr: '127.0.0.1', serverPort: 9100, sni: 'a.test.com' });
  });

  it('names what is wrong', () => {
    assert.equal(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100', remote_port: '70000' }, listeners), 'invalid remote_port: 70000');
    assert.equal(parseExplainInput({ remote_addr: '10.0.0.7', server_port: '9100', server_addr: 'localhost' }, listeners), 'invalid server_addr: localhost');
  });
});

describe('parseExplainInput: proxy_peer', () => {
  const base = { remote_addr: '203.0.113.7', remote_port: '5555', server_port: '9100' };
  it('takes an address, ip:port or [v6]:port, IPv4-mapped unwrapped', () => {
    const peer = (proxy_peer: string) => (parseExplainInput({ ...base, proxy_peer }, listeners) as ConnInfo).proxyPeer;
    assert.deepEqual(['10.0.0.5', '10.0.0.5:4000', '::1', '[::1]:4000', '::ffff:10.0.0.5', '[::ffff:10.0.0.5]:80'].map(peer), [
      '10.0.0.5', '10.0.0.5:4000', '::1', '[::1]:4000', '10.0.0.5', '10.0.0.5:80',
    ]);
    assert.equal((parseExplainInput(base, listeners) as ConnInfo).proxyPeer, undefined);
  });
  it('names a malformed one', () => {
    for (const bad of ['proxy.example', '10.0.0.5:0', '10.0.0.5:70000', '[::1]', '10.0.0.256:80']) {
      assert.equal(parseExplainInput({ ...base, proxy_peer: bad }, listeners), `invalid proxy_peer: ${bad} (the PROXY header's sender: an IP address, or ip:port)`);
    }
  });
});

function row(id: string, value: JsonObject): StoredObject {
  return { id, value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) };
}

describe('explainConnection behind a PROXY header', () => {
  const up = { nodes: { '127.0.0.1:1995': 1 } };
  // port 9300 reads PROXY headers, 9301 does not; both serve the declared range first, then loopback peers
  const snap = buildSnapshot({
    revision: 1,
    streamRoutes: [
      row('declared', { remote_addr: '203.0.113.0/24', upstream: up }),
      row('peers', { remote_addr: '127.0.0.0/8', upstream: up }),
    ],
    upstreams: [],
    ssls: [],
    unreadable: [],
  }, null).snapshot;
  const views: ListenerView[] = [
    { protocol: 'tcp', host: '127.0.0.1', port: 9300, tls: null, origin: 'apisix.stream_proxy.tcp[0]', proxyProtocol: true },
    { protocol: 'tcp', host: '127.0.0.1', port: 9301, tls: null, origin: 'apisix.stream_proxy.tcp[1]' },
    { protocol: 'udp', host: '127.0.0.1', port: 9300, tls: null, origin: 'apisix.stream_proxy.udp[0]', proxyProtocol: true },
    { protocol: 'tcp', host: '127.0.0.1', port: 9302, tls: null, origin: 'stream_listeners/pp', proxyProtocol: true, proxyProtocolToUpstream: true },
  ];
  const explain = (q: Record<string, string>, realIpFrom?: string[]) => {
    const info = parseExplainInput({ remote_addr: '203.0.113.7', remote_port: '5555', ...q }, views);
    assert.equal(typeof info, 'object', String(info));
    return explainConnection(snap, info as ConnInfo, { listeners: views, ...(realIpFrom ? { realIpFrom } : {}) }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const trusted = ['127.0.0.1/32'];

  // listener          proxy_peer        real_ip_from   ->  client the routes see   outcome
  const table: Array<[string, Record<string, string>, string[] | undefined, string | null, string, string | null]> = [
    ['PROXY, trusted', { server_port: '9300', proxy_peer: '127.0.0.1:40000' }, trusted, '203.0.113.7', 'proxied', 'declared'],
    ['PROXY, no list', { server_port: '9300', proxy_peer: '127.0.0.2' }, undefined, '203.0.113.7', 'proxied', 'declared'],
    ['PROXY, untrusted', { server_port: '9300', proxy_peer: '127.0.0.2:40000' }, trusted, '203.0.113.7', 'proxy_protocol_untrusted', null],
    ['plain, header is data', { server_port: '9301', proxy_peer: '127.0.0.1:40000' }, trusted, '127.0.0.1', 'proxied', 'peers'],
    ['PROXY, no peer given', { server_port: '9300' }, trusted, '203.0.113.7', 'proxied', 'declared'],
    ['udp PROXY, untrusted', { server_port: '9300', protocol: 'udp', proxy_peer: '127.0.0.9' }, trusted, '203.0.113.7', 'proxy_protocol_untrusted', null],
    ['object PROXY, trusted', { server_port: '9302', proxy_peer: '127.0.0.1:40000' }, trusted, '203.0.113.7', 'proxied', 'declared'],
    ['object PROXY, untrusted', { server_port: '9302', proxy_peer: '127.0.0.2:40000' }, trusted, '203.0.113.7', 'proxy_protocol_untrusted', null],
  ];
  for (const [name, q, realIpFrom, client, outcome, route] of table) {
    it(name, () => {
      const e = explain(q, realIpFrom);
      assert.deepEqual([e.connection.remote_addr, e.outcome, e.route?.id ?? null], [client, outcome, route]);
    });
  }

  it('says why, and shows the hop', () => {
    const ok = explain({ server_port: '9300', proxy_peer: '127.0.0.1:40000' }, trusted);
    assert.deepEqual(ok.connection, { protocol: 'tcp', remote_addr: '203.0.113.7', remote_port: 5555, server_addr: '127.0.0.1', server_port: 9300, sni: null, proxy_peer: '127.0.0.1:40000' });
    assert.deepEqual(ok.listener, { addr: 'tcp 127.0.0.1:9300 (apisix.stream_proxy.tcp[0])', tls: null, proxy_protocol: true });
    const object = explain({ server_port: '9302', proxy_peer: '127.0.0.1:40000' }, trusted);
    assert.deepEqual(object.listener, { addr: 'tcp 127.0.0.1:9302 (stream_listeners/pp)', tls: null, proxy_protocol: true, proxy_protocol_to_upstream: true });
    assert.equal(ok.notes, undefined);
    const refused = explain({ server_port: '9300', proxy_peer: '127.0.0.2:40000' }, trusted);
    assert.deepEqual([refused.skipped, refused.plugins, refused.notes], [[], [], [
      'peer 127.0.0.2 is not in nginx_config.stream.real_ip_from: its PROXY header is refused before any route (the connection is closed)',
    ]]);
    const plain = explain({ server_port: '9301', proxy_peer: '127.0.0.1:40000' }, trusted);
    assert.deepEqual([plain.connection.remote_port, plain.connection.proxy_peer, plain.notes], [40000, undefined, [
      'tcp 127.0.0.1:9301 (apisix.stream_proxy.tcp[1]) reads no PROXY header: the client is the proxy_peer 127.0.0.1:40000, and its header would reach the upstream as data',
    ]]);
    assert.deepEqual(explain({ server_port: '9300' }, trusted).notes, [
      'tcp 127.0.0.1:9300 (apisix.stream_proxy.tcp[0]) reads a PROXY header: remote_addr is taken as the client it declares; give proxy_peer (the proxy\'s address) to check it against nginx_config.stream.real_ip_from',
    ]);
  });
});
