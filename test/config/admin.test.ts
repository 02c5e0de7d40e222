// deployment.admin: keys, listen address, allow list, CORS, the fatal open-admin case and port clashes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';
import { parseConfig } from '../../src/config/parse';

/** YAML with `body` (already indented by 4) under deployment.admin. */
function adminYaml(body: string, head = ''): string {
  return `${head}deployment:\n  admin:\n${body}`;
}

describe('deployment.admin defaults', () => {
  it('applies every default when the section is absent', () => {
    assert.deepEqual(parseOk('').config.admin, {
      keyRequired: true,
      keys: [],
      listen: { host: '127.0.0.1', port: 9180 },
      allow: ['127.0.0.0/24'],
      cors: true,
    });
  });

  it('applies the listen defaults per field', () => {
    assert.deepEqual(parseOk(adminYaml('    admin_listen:\n      port: 9999\n')).config.admin.listen, {
      host: '127.0.0.1',
      port: 9999,
    });
    assert.deepEqual(parseOk(adminYaml('    admin_listen:\n      ip: "::1"\n')).config.admin.listen, {
      host: '::1',
      port: 9180,
    });
  });
});

describe('deployment.admin.admin_key', () => {
  it('reads admin and viewer keys in order', () => {
    const yaml = adminYaml(
      '    admin_key:\n      - {name: admin, key: k1, role: admin}\n      - {name: ro, key: k2, role: viewer}\n',
    );
    assert.deepEqual(parseOk(yaml).config.admin.keys, [
      { name: 'admin', key: 'k1', role: 'admin' },
      { name: 'ro', key: 'k2', role: 'viewer' },
    ]);
  });

  it('skips an empty or missing key with a warning', () => {
    const yaml = adminYaml(
      '    admin_key:\n      - {name: a, key: "", role: admin}\n      - {name: b, role: viewer}\n      - {name: c, key: k, role: admin}\n',
    );
    const { config, warnings } = parseOk(yaml);
    assert.deepEqual(config.admin.keys, [{ name: 'c', key: 'k', role: 'admin' }]);
    assert.deepEqual(warnings, [
      'deployment.admin.admin_key[0].key: empty, so this key is skipped',
      'deployment.admin.admin_key[1].key: empty, so this key is skipped',
    ]);
  });

  const errors: Array<[string, string]> = [
    ['    admin_key: abc\n', 'deployment.admin.admin_key: expected a list of {name, key, role}, got "abc"'],
    ['    admin_key:\n      - abc\n', 'deployment.admin.admin_key[0]: expected a mapping {name, key, role}, got "abc"'],
    ['    admin_key:\n      - {name: a, key: k}\n', 'deployment.admin.admin_key[0].role: missing (expected "admin" or "viewer")'],
    [
      '    admin_key:\n      - {name: a, key: k, role: root}\n',
      'deployment.admin.admin_key[0].role: expected "admin" or "viewer", got "root"',
    ],
    ['    admin_key:\n      - {key: k, role: admin}\n', 'deployment.admin.admin_key[0].name: missing (expected a string)'],
    ['    admin_key:\n      - {name: [a], key: k, role: admin}\n', 'deployment.admin.admin_key[0].name: expected a string, got a list'],
    ['    admin_key:\n      - {name: a, key: 12345, role: admin}\n', 'deployment.admin.admin_key[0].key: expected a string, got 12345'],
    [
      '    admin_key:\n      - {name: a, key: k, role: admin}\n      - {name: b, key: x, role: viewer}\n      - {name: c, key: k, role: viewer}\n',
      'deployment.admin.admin_key[2].key: same key as deployment.admin.admin_key[0]',
    ],
  ];
  for (const [body, expected] of errors) {
    it(`rejects: ${expected}`, () => {
      assert.equal(parseError(adminYaml(body)), expected);
    });
  }
});

describe('deployment.admin listen, allow list, flags', () => {
  it('reads allow_admin as written; an empty list means everyone', () => {
    assert.deepEqual(parseOk(adminYaml('    allow_admin: ["10.0.0.0/8", "::1", "192.168.1.7"]\n')).config.admin.allow, [
      '10.0.0.0/8',
      '::1',
      '192.168.1.7',
    ]);
    assert.deepEqual(parseOk(adminYaml('    allow_admin: []\n')).config.admin.allow, []);
  });

  it('reads admin_key_required and enable_admin_cors', () => {
    const { config } = parseOk(adminYaml('    admin_key_required: false\n    enable_admin_cors: false\n'));
    assert.equal(config.admin.keyRequired, false);
    assert.equal(config.admin.cors, false);
  });

  const errors: Array<[string, string]> = [
    ['    admin_listen:\n      port: abc\n', 'deployment.admin.admin_listen.port: expected an integer 1..65535, got "abc"'],
    ['    admin_listen:\n      port: 0\n', 'deployment.admin.admin_listen.port: expected an integer 1..65535, got 0'],
    ['    admin_listen:\n      port: 9180.5\n', 'deployment.admin.admin_listen.port: expected an integer 1..65535, got 9180.5'],
    [
      '    admin_listen:\n      ip: localhost\n',
      'deployment.admin.admin_listen.ip: expected an IP address such as "127.0.0.1" or "::1" (no brackets), got "localhost"',
    ],
    [
      '    admin_listen:\n      ip: "[::1]"\n',
      'deployment.admin.admin_listen.ip: expected an IP address such as "127.0.0.1" or "::1" (no brackets), got "[::1]"',
    ],
    ['    admin_listen: 9180\n', 'deployment.admin.admin_listen: expected a mapping, got 9180'],
    [
      '    allow_admin: ["127.0.0.1", "10.0.0.0/33"]\n',
      'deployment.admin.allow_admin[1]: expected an IP address or CIDR like "10.0.0.0/8", got "10.0.0.0/33"',
    ],
    ['    allow_admin: [10]\n', 'deployment.admin.allow_admin[0]: expected an IP address or CIDR like "10.0.0.0/8", got 10'],
    ['    allow_admin: 127.0.0.1\n', 'deployment.admin.allow_admin: expected a list of IP addresses or CIDRs, got "127.0.0.1"'],
    ['    admin_key_required: "no"\n', 'deployment.admin.admin_key_required: expected true or false, got "no"'],
    ['    enable_admin_cors: 1\n', 'deployment.admin.enable_admin_cors: expected true or false, got 1'],
  ];
  for (const [body, expected] of errors) {
    it(`rejects: ${expected}`, () => {
      assert.equal(parseError(adminYaml(body)), expected);
    });
  }
});

describe('an Admin API open to the network without a key', () => {
  const open = '    admin_key_required: false\n    admin_listen:\n      ip: 0.0.0.0\n';

  it('is fatal', () => {
    assert.equal(
      parseError(adminYaml(open)),
      'deployment.admin.admin_key_required: false is only allowed while deployment.admin.admin_listen.ip is a loopback ' +
        'address (it is "0.0.0.0"): anyone who reaches that address could change the proxy without a key',
    );
  });

  it('is allowed on loopback addresses', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '"::1"', '"::ffff:127.0.0.1"']) {
      const yaml = adminYaml(`    admin_key_required: false\n    admin_listen:\n      ip: ${ip}\n`);
      assert.equal(parseOk(yaml).config.admin.keyRequired, false, ip);
    }
  });

  it('is allowed when the Admin API is disabled', () => {
    assert.equal(parseOk(adminYaml(open, 'apisix:\n  enable_admin: false\n')).config.enableAdmin, false);
  });
});

describe('admin port shared with a stream listener', () => {
  const stream = (item: string): string => `apisix:\n  stream_proxy:\n    tcp:\n      - ${item}\n`;

  const clashes: Array<[string, string, string]> = [
    ['"127.0.0.1:9180"', '', 'port 9180 on "127.0.0.1" is also the stream listener apisix.stream_proxy.tcp[0]'],
    ['9180', '', 'port 9180 on "127.0.0.1" is also the stream listener apisix.stream_proxy.tcp[0]'],
    ['"9170-9190"', '', 'port 9180 on "127.0.0.1" is also the stream listener apisix.stream_proxy.tcp[0]'],
    ['"[::]:9180"', '', 'port 9180 on "127.0.0.1" is also the stream listener apisix.stream_proxy.tcp[0]'],
    ['"127.0.0.1:9200"', '    admin_listen: {ip: 0.0.0.0, port: 9200}\n', 'port 9200 on "0.0.0.0" is also the stream listener apisix.stream_proxy.tcp[0]'],
  ];
  for (const [item, admin, expected] of clashes) {
    it(`rejects tcp ${item} against admin ${admin.trim() || 'defaults'}`, () => {
      assert.equal(parseError(stream(item) + adminYaml(admin)), `deployment.admin.admin_listen: ${expected}`);
    });
  }

  it('allows different hosts, udp on the same port, or a disabled Admin API', () => {
    assert.equal(parseOk(`${stream('"127.0.0.2:9180"')}    udp: [9180]\n`).config.stream.tcp.length, 1);
    assert.equal(parseOk(stream('"[::1]:9180"')).config.stream.tcp.length, 1);
    assert.equal(parseOk(`${stream('9180')}  enable_admin: false\n`).config.stream.tcp.length, 1);
  });
});

describe('the published APISIX example key', () => {
  const yaml = (ip: string) =>
    `deployment:\n  admin:\n    admin_key:\n      - {name: admin, key: edd1c9f034335f136f87ad84b625c8f1, role: admin}\n    admin_listen: {ip: ${ip}, port: 9180}\n`;

  it('is accepted quietly on loopback, where the doc examples run', () => {
    assert.deepEqual(parseConfig(yaml('127.0.0.1'), 't').warnings, []);
  });

  it('is refused when the Admin API listens beyond loopback (CVE-2020-13945)', () => {
    assert.throws(() => parseConfig(yaml('0.0.0.0'), 't'), {
      message:
        'deployment.admin.admin_key[0].key: is the key published in APISIX\'s documentation, and the Admin API listens on "0.0.0.0" ' +
        '(deployment.admin.admin_listen.ip): anyone who reaches that address could change the proxy; set a long random key, or listen on 127.0.0.1',
    });
  });

  it('refuses an empty or missing key beyond loopback, and skips it on loopback', () => {
    for (const item of ['{name: a, key: "", role: admin}', '{name: a, role: admin}']) {
      const y = (ip: string) => `deployment:\n  admin:\n    admin_key:\n      - {name: b, key: k9, role: admin}\n      - ${item}\n    admin_listen: {ip: ${ip}, port: 9180}\n`;
      assert.throws(() => parseConfig(y('192.0.2.1'), 't'), /^Error: deployment\.admin\.admin_key\[1\]\.key: is empty, and the Admin API listens on "192\.0\.2\.1"/);
      assert.deepEqual(parseConfig(y('127.0.0.1'), 't').config.admin.keys, [{ name: 'b', key: 'k9', role: 'admin' }]);
    }
  });
});
