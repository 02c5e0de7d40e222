// apisix.stream_proxy.tcp / .udp: every listen form, range expansion, duplicates, the listener cap, and errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddr, canonicalIp, MAX_LISTENERS } from '../../src/config/listen';
import { parseError, parseOk, streamYaml } from './helpers';

const T0 = 'apisix.stream_proxy.tcp[0]';

/** host:port[/tls] of each TCP listener, in order. */
function tcpOf(item: string): string[] {
  return parseOk(streamYaml([item])).config.stream.tcp.map(
    (l) => `${l.host}:${l.port}${l.tls ? '/tls' : ''}@${l.origin}`,
  );
}

describe('tcp listen forms', () => {
  const cases: Array<[string, string[]]> = [
    ['9100', [`0.0.0.0:9100@${T0}`]],
    ['"9100"', [`0.0.0.0:9100@${T0}`]],
    ['1', [`0.0.0.0:1@${T0}`]],
    ['65535', [`0.0.0.0:65535@${T0}`]],
    ['"127.0.0.1:9101"', [`127.0.0.1:9101@${T0}`]],
    ['127.0.0.10:9101', [`127.0.0.10:9101@${T0}`]],
    ['"[::1]:9101"', [`::1:9101@${T0}`]],
    ['"[0:0:0:0:0:0:0:1]:9101"', [`::1:9101@${T0}`]],
    ['"[::]:9101"', [`:::9101@${T0}`]],
    ['"[::ffff:127.0.0.1]:9101"', [`127.0.0.1:9101@${T0}`]],
    ['"2000-2002"', [`0.0.0.0:2000@${T0}`, `0.0.0.0:2001@${T0}`, `0.0.0.0:2002@${T0}`]],
    ['"3000-3000"', [`0.0.0.0:3000@${T0}`]],
    ['"127.0.0.1:4000-4001"', [`127.0.0.1:4000@${T0}`, `127.0.0.1:4001@${T0}`]],
    ['"[::1]:4000-4001"', [`::1:4000@${T0}`, `::1:4001@${T0}`]],
    ['{addr: 9100, tls: true}', [`0.0.0.0:9100/tls@${T0}`]],
    ['{addr: "127.0.0.1:9101"}', [`127.0.0.1:9101@${T0}`]],
    ['{addr: "9100-9101", tls: true}', [`0.0.0.0:9100/tls@${T0}`, `0.0.0.0:9101/tls@${T0}`]],
    ['{addr: 9100, tls: false, proxy_protocol: false}', [`0.0.0.0:9100@${T0}`]],
  ];
  for (const [item, expected] of cases) {
    it(`accepts ${item}`, () => {
      assert.deepEqual(tcpOf(item), expected);
    });
  }

  it('gives each item its own origin', () => {
    const { config } = parseOk(streamYaml(['9100', '"127.0.0.1:9101"']));
    assert.deepEqual(config.stream.tcp, [
      { host: '0.0.0.0', port: 9100, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
      { host: '127.0.0.1', port: 9101, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
    ]);
  });

  it('treats an empty or absent list as no listeners', () => {
    assert.deepEqual(parseOk('apisix:\n  stream_proxy:\n    tcp: []\n').config.stream, { tcp: [], udp: [] });
    assert.deepEqual(parseOk('apisix:\n  stream_proxy:\n    tcp:\n').config.stream, { tcp: [], udp: [] });
    assert.deepEqual(parseOk('apisix:\n  stream_proxy: {}\n').config.stream, { tcp: [], udp: [] });
  });
});

describe('tcp listen errors', () => {
  const forms = 'a port like 9100, "ip:port", "[ipv6]:port" or a range like "2000-2100"';
  const cases: Array<[string, string]> = [
    ['0', `${T0}: 0 is not a valid port`],
    ['65536', `${T0}: 65536 is not a valid port`],
    ['9100.5', `${T0}: 9100.5 is not a valid port`],
    ['-1', `${T0}: -1 is not a valid port`],
    ['"0"', `${T0}: "0" is not a valid port`],
    ['"-5"', `${T0}: "-5" is not a valid port`],
    ['"abc"', `${T0}: "abc" is not a valid listen address (expected ${forms})`],
    ['""', `${T0}: "" is not a valid listen address (expected ${forms})`],
    ['" 9100"', `${T0}: " 9100" is not a valid listen address (expected ${forms})`],
    ['"127.0.0.1:99999"', `${T0}: "127.0.0.1:99999" is not a valid port`],
    ['"127.0.0.1:0"', `${T0}: "127.0.0.1:0" is not a valid port`],
    ['"127.0.0.1:"', `${T0}: "127.0.0.1:" is not a valid port`],
    ['"127.0.0.1:abc"', `${T0}: "127.0.0.1:abc" is not a valid port`],
    ['"127.1:9100"', `${T0}: "127.1:9100": "127.1" is not an IP address`],
    ['"localhost:9100"', `${T0}: "localhost:9100": "localhost" is not an IP address`],
    ['":9100"', `${T0}: ":9100": "" is not an IP address`],
    ['"::1:9100"', `${T0}: "::1:9100": an IPv6 address must be enclosed in brackets, e.g. "[::1]:9100"`],
    ['"::1"', `${T0}: "::1": an IPv6 address must be enclosed in brackets, e.g. "[::1]:9100"`],
    ['"[::1]"', `${T0}: "[::1]" is not a valid listen address (expected "[ipv6]:port")`],
    ['"[127.0.0.1]:9100"', `${T0}: "[127.0.0.1]:9100": brackets are only for IPv6 addresses`],
    ['"[fe80::1%eth0]:9100"', `${T0}: "[fe80::1%eth0]:9100": "fe80::1%eth0" is not an IP address`],
    ['"[::1]:70000"', `${T0}: "[::1]:70000" is not a valid port`],
    ['"2100-2000"', `${T0}: "2100-2000" is not a valid port range (start is greater than end)`],
    ['"0-10"', `${T0}: "0-10" is not a valid port range (each end must be 1..65535)`],
    ['"1-65536"', `${T0}: "1-65536" is not a valid port range (each end must be 1..65535)`],
    ['"127.0.0.1:10-5"', `${T0}: "127.0.0.1:10-5" is not a valid port range (start is greater than end)`],
    ['true', `${T0}: expected ${forms}, got true`],
    ['', `${T0}: expected ${forms}, got nothing (an empty value)`],
    ['[9100]', `${T0}: expected ${forms}, got a list (quote "[::1]:port" addresses in YAML)`],
    ['{tls: true}', `${T0}.addr: missing (expected ${forms})`],
    ['{addr: 0}', `${T0}.addr: 0 is not a valid port`],
    ['{addr: "x:1"}', `${T0}.addr: "x:1": "x" is not an IP address`],
    ['{addr: 9100, tls: "yes"}', `${T0}.tls: expected true or false, got "yes"`],
    ['{addr: 9100, proxy_protocol: 1}', `${T0}.proxy_protocol: expected true or false, got 1`],
  ];
  for (const [item, expected] of cases) {
    it(`rejects ${item || '(empty item)'}`, () => {
      assert.equal(parseError(streamYaml([item])), expected);
    });
  }

  it('rejects a tcp value that is not a list', () => {
    assert.equal(
      parseError('apisix:\n  stream_proxy:\n    tcp: 9100\n'),
      'apisix.stream_proxy.tcp: expected a list of listen addresses, got 9100',
    );
  });

  it('names the failing item, not the first one', () => {
    assert.equal(
      parseError(streamYaml(['9100', '"127.0.0.1:99999"'])),
      'apisix.stream_proxy.tcp[1]: "127.0.0.1:99999" is not a valid port',
    );
  });
});

describe('PROXY protocol flags of listener items', () => {
  it('sets proxyProtocol / proxyProtocolToUpstream only when true, on every port of a range', () => {
    const item = '{addr: "127.0.0.1:9100-9101", proxy_protocol: true, proxy_protocol_to_upstream: true, tls_passthrough: true}';
    const { config, warnings } = parseOk(streamYaml([item, '{addr: 9102, proxy_protocol: false}']));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.stream.tcp, [
      { host: '127.0.0.1', port: 9100, tls: false, tlsPassthrough: true, proxyProtocol: true, proxyProtocolToUpstream: true, origin: T0 },
      { host: '127.0.0.1', port: 9101, tls: false, tlsPassthrough: true, proxyProtocol: true, proxyProtocolToUpstream: true, origin: T0 },
      { host: '0.0.0.0', port: 9102, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
    ]);
  });

  it('takes each flag alone', () => {
    const { config } = parseOk(streamYaml(['{addr: 9100, proxy_protocol: true}', '{addr: 9101, tls: true, proxy_protocol_to_upstream: true}']));
    assert.deepEqual(config.stream.tcp, [
      { host: '0.0.0.0', port: 9100, tls: false, proxyProtocol: true, origin: T0 },
      { host: '0.0.0.0', port: 9101, tls: true, proxyProtocolToUpstream: true, origin: 'apisix.stream_proxy.tcp[1]' },
    ]);
  });

  it('warns about unknown keys of an item', () => {
    assert.deepEqual(parseOk(streamYaml(['{addr: 9100, tsl: true}'])).warnings, [`unknown key ${T0}.tsl (ignored)`]);
  });
});

describe('udp listeners', () => {
  it('accepts the same address forms as tcp', () => {
    const { config } = parseOk(streamYaml([], ['9200', '"127.0.0.1:9211"', '"[::1]:9300-9301"']));
    assert.deepEqual(config.stream.udp, [
      { host: '0.0.0.0', port: 9200, origin: 'apisix.stream_proxy.udp[0]' },
      { host: '127.0.0.1', port: 9211, origin: 'apisix.stream_proxy.udp[1]' },
      { host: '::1', port: 9300, origin: 'apisix.stream_proxy.udp[2]' },
      { host: '::1', port: 9301, origin: 'apisix.stream_proxy.udp[2]' },
    ]);
    assert.deepEqual(config.stream.tcp, []);
  });

  it('takes the object form with PROXY protocol flags', () => {
    const { config, warnings } = parseOk(streamYaml(['9100'], ['{addr: 9200, proxy_protocol: true}', '{addr: "127.0.0.1:9211", proxy_protocol_to_upstream: true}', '{addr: 9212}']));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.stream.udp, [
      { host: '0.0.0.0', port: 9200, proxyProtocol: true, origin: 'apisix.stream_proxy.udp[0]' },
      { host: '127.0.0.1', port: 9211, proxyProtocolToUpstream: true, origin: 'apisix.stream_proxy.udp[1]' },
      { host: '0.0.0.0', port: 9212, origin: 'apisix.stream_proxy.udp[2]' },
    ]);
  });

  it('refuses TLS keys, a missing addr and non-boolean flags on UDP items, naming the key', () => {
    assert.equal(parseError(streamYaml(['9100'], ['{addr: 9200, tls: true}'])), 'apisix.stream_proxy.udp[0].tls: UDP listeners have no TLS (weir has no DTLS)');
    assert.equal(parseError(streamYaml(['9100'], ['{proxy_protocol: true}'])), 'apisix.stream_proxy.udp[0].addr: missing (expected a port like 9100, "ip:port", "[ipv6]:port" or a range like "2000-2100")');
    assert.equal(parseError(streamYaml(['9100'], ['{addr: 9200, proxy_protocol: "yes"}'])), 'apisix.stream_proxy.udp[0].proxy_protocol: expected true or false, got "yes"');
    assert.deepEqual(parseOk(streamYaml(['9100'], ['{addr: 9200, proxi_protocol: true}'])).warnings, ['unknown key apisix.stream_proxy.udp[0].proxi_protocol (ignored)']);
  });

  it('reports bad udp items under udp', () => {
    assert.equal(parseError(streamYaml(['9100'], ['70000'])), 'apisix.stream_proxy.udp[0]: 70000 is not a valid port');
  });
});

describe('duplicates and the listener cap', () => {
  const cases: Array<[string[], string]> = [
    [['9100', '"0.0.0.0:9100"'], 'apisix.stream_proxy.tcp[1]: 0.0.0.0:9100 is already listed by apisix.stream_proxy.tcp[0]'],
    [['"9000-9200"', '9100'], 'apisix.stream_proxy.tcp[1]: 0.0.0.0:9100 is already listed by apisix.stream_proxy.tcp[0]'],
    [['"[::1]:80"', '"[0::1]:80"'], 'apisix.stream_proxy.tcp[1]: [::1]:80 is already listed by apisix.stream_proxy.tcp[0]'],
    [['9100', '9101', '{addr: 9101, tls: true}'], 'apisix.stream_proxy.tcp[2]: 0.0.0.0:9101 is already listed by apisix.stream_proxy.tcp[1]'],
  ];
  for (const [items, expected] of cases) {
    it(`rejects ${items.join(', ')}`, () => {
      assert.equal(parseError(streamYaml(items)), expected);
    });
  }

  it('rejects a duplicate among udp items', () => {
    assert.equal(
      parseError(streamYaml([], ['9200', '"0.0.0.0:9200"'])),
      'apisix.stream_proxy.udp[1]: 0.0.0.0:9200 is already listed by apisix.stream_proxy.udp[0]',
    );
  });

  it('allows the same port for tcp and udp, and for different hosts', () => {
    const { config } = parseOk(streamYaml(['9100', '"127.0.0.1:9100"'], ['9100']));
    assert.equal(config.stream.tcp.length, 2);
    assert.equal(config.stream.udp.length, 1);
  });

  it(`allows exactly ${MAX_LISTENERS} listeners and no more`, () => {
    assert.equal(parseOk(streamYaml([`"1-${MAX_LISTENERS}"`])).config.stream.tcp.length, MAX_LISTENERS);
    assert.equal(
      parseError(streamYaml([`"1-${MAX_LISTENERS + 1}"`])),
      `${T0}: more than ${MAX_LISTENERS} listeners (TCP and UDP together) after expanding port ranges`,
    );
    assert.equal(
      parseError(streamYaml(['"1-4000"'], ['"5000-5096"'])),
      `apisix.stream_proxy.udp[0]: more than ${MAX_LISTENERS} listeners (TCP and UDP together) after expanding port ranges`,
    );
  });

  it('fails on the whole port space without expanding it', () => {
    assert.equal(
      parseError(streamYaml(['"1-65535"'])),
      `${T0}: more than ${MAX_LISTENERS} listeners (TCP and UDP together) after expanding port ranges`,
    );
  });
});

describe('parseListenAddr and canonicalIp', () => {
  it('returns the canonical host and the port range', () => {
    assert.deepEqual(parseListenAddr('[0:0::0:1]:7-9', 'x'), { host: '::1', start: 7, end: 9 });
    assert.deepEqual(parseListenAddr(80, 'x'), { host: '0.0.0.0', start: 80, end: 80 });
  });

  it('canonicalises IP text and refuses non-literals', () => {
    assert.equal(canonicalIp('::FFFF:10.0.0.1'), '10.0.0.1');
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
    assert.equal(canonicalIp('010.0.0.1'), null);
    assert.equal(canonicalIp('[::1]'), null);
  });
});
