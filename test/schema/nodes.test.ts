// normalizeNodes (both forms, IPv6, order, priorities) and the node key / host parsers behind validation.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeNodes } from '../../src/schema/index';
import { isHostname, parseNodeHost, parseNodeKey } from '../../src/schema/nodes';

describe('normalizeNodes', () => {
  it('map form: key insertion order, IPv6 unbracketed, priority 0', () => {
    assert.deepEqual(normalizeNodes({ '127.0.0.1:1995': 3, '[::1]:80': 1, 'localhost:1996': 0 }), [
      { host: '127.0.0.1', port: 1995, weight: 3, priority: 0, address: '127.0.0.1:1995' },
      { host: '::1', port: 80, weight: 1, priority: 0, address: '[::1]:80' },
      { host: 'localhost', port: 1996, weight: 0, priority: 0, address: 'localhost:1996' },
    ]);
  });

  it('array form: array order, priority default 0, metadata dropped', () => {
    const nodes = [
      { host: 'b.example', port: 2, weight: 1, priority: 1, metadata: { z: 1 } },
      { host: '10.0.0.1', port: 1, weight: 5 },
      { host: '[fe80::1]', port: 443, weight: 2, priority: -1 },
      { host: '2001:db8::2', port: 8443, weight: 1 },
    ];
    assert.deepEqual(normalizeNodes(nodes), [
      { host: 'b.example', port: 2, weight: 1, priority: 1, address: 'b.example:2' },
      { host: '10.0.0.1', port: 1, weight: 5, priority: 0, address: '10.0.0.1:1' },
      { host: 'fe80::1', port: 443, weight: 2, priority: -1, address: '[fe80::1]:443' },
      { host: '2001:db8::2', port: 8443, weight: 1, priority: 0, address: '[2001:db8::2]:8443' },
    ]);
  });

  it('empty nodes give an empty list', () => {
    assert.deepEqual(normalizeNodes({}), []);
    assert.deepEqual(normalizeNodes([]), []);
  });

  it('never throws; entries that would not validate are skipped', () => {
    assert.deepEqual(normalizeNodes(null), []);
    assert.deepEqual(normalizeNodes('127.0.0.1:80'), []);
    assert.deepEqual(normalizeNodes(42), []);
    assert.deepEqual(normalizeNodes({ '::1:80': 1, '127.0.0.1:0': 1, 'a:1': -1, 'b:2': '1', 'c:3': 1 }), [
      { host: 'c', port: 3, weight: 1, priority: 0, address: 'c:3' },
    ]);
    assert.deepEqual(normalizeNodes([null, 5, { host: 1, port: 1, weight: 1 }, { host: 'a', weight: 1 }, { host: 'ok', port: 9, weight: 1, priority: 'x' }]), [
      { host: 'ok', port: 9, weight: 1, priority: 0, address: 'ok:9' },
    ]);
  });
});

describe('parseNodeKey', () => {
  const rows: [string, ReturnType<typeof parseNodeKey>][] = [
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80 }],
    ['[::1]:65535', { host: '::1', port: 65535 }],
    ['[::ffff:127.0.0.1]:1', { host: '::ffff:127.0.0.1', port: 1 }],
    ['localhost:1995', { host: 'localhost', port: 1995 }],
    ['::1:80', { error: 'ipv6', detail: '::1:80' }],
    ['127.0.0.1:0', { error: 'port', detail: '0' }],
    ['127.0.0.1:123456', { error: 'port', detail: '123456' }],
    ['127.0.0.1:-1', { error: 'port', detail: '-1' }],
    ['127.0.0.1', { error: 'noport', detail: '127.0.0.1' }],
    ['[::1]', { error: 'noport', detail: '[::1]' }],
    ['[::1', { error: 'host', detail: '[::1' }],
    ['[zz]:80', { error: 'host', detail: '[zz]' }],
    [':80', { error: 'host', detail: '' }],
  ];
  for (const [key, expected] of rows) {
    it(key, () => assert.deepEqual(parseNodeKey(key), expected));
  }
});

describe('parseNodeHost / isHostname', () => {
  const rows: [string, string | null][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['[127.0.0.1]', null],
    ['example.com', 'example.com'],
    ['example.com.', 'example.com.'],
    ['svc_name', 'svc_name'],
    ['127.1', null],
    ['1.2.3.256', null],
    ['a..b', null],
    ['', null],
    ['a'.repeat(64) + '.com', null],
    ['fe80::1%eth0', null],
  ];
  for (const [host, expected] of rows) {
    it(`host ${JSON.stringify(host)}`, () => assert.equal(parseNodeHost(host), expected));
  }
  it('hostname length limit is 253', () => {
    const label = 'a'.repeat(63);
    const name253 = [label, label, label, 'a'.repeat(61)].join('.');
    assert.equal(name253.length, 253);
    assert.equal(isHostname(name253), true);
    assert.equal(isHostname(`${name253}a`), false);
  });
});
