// parseConfig: defaults, proxy_mode, sqlite, logs, shutdown grace, warnings, YAML errors, APISIX doc examples.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/parse';
import type { Config } from '../../src/config/types';
import { parseError, parseOk, streamYaml } from './helpers';

const DEFAULTS: Config = {
  source: 'test.yaml',
  enableAdmin: true,
  streamEnabled: true,
  stream: { tcp: [], udp: [] },
  udp: { maxSessions: 10_000, responses: null, admission: { maxPerSource: 1000, rate: 5000, burst: 1000 }, rcvbuf: 4 * 1024 * 1024 },
  admin: {
    keyRequired: true,
    keys: [],
    listen: { host: '127.0.0.1', port: 9180 },
    allow: ['127.0.0.0/24'],
    cors: true,
  },
  sqlite: { path: 'data/weir.db' },
  log: { access: { enabled: true, path: null } },
  tls: { fallbackSni: null, keyring: null, encryptionEnabled: true },
  shutdownGraceMs: 240_000,
};

describe('defaults', () => {
  for (const [name, text] of [
    ['an empty file', ''],
    ['a file of comments', '# nothing here\n'],
    ['empty sections', 'apisix:\ndeployment:\n  admin:\n  sqlite:\nnginx_config:\n  stream:\n'],
  ]) {
    it(`gives the full default config for ${name}`, () => {
      assert.deepEqual(parseOk(text!), { config: DEFAULTS, warnings: [] });
    });
  }

  it('reports the source it was given', () => {
    assert.equal(parseConfig('', '/etc/weir/config.yaml', {}).config.source, '/etc/weir/config.yaml');
  });
});

describe('apisix section', () => {
  const modes: Array<[string, boolean]> = [
    ['http', false],
    ['stream', true],
    ['"http&stream"', true],
  ];
  for (const [mode, enabled] of modes) {
    it(`proxy_mode ${mode} -> streamEnabled ${enabled}`, () => {
      assert.equal(parseOk(`apisix:\n  proxy_mode: ${mode}\n`).config.streamEnabled, enabled);
    });
  }

  it('does not listen when proxy_mode is "http", and says so', () => {
    const { config, warnings } = parseOk(`apisix:\n  proxy_mode: http\n${streamYaml(['9100'], ['9200']).slice('apisix:\n'.length)}`);
    assert.deepEqual(config.stream, { tcp: [], udp: [] });
    assert.deepEqual(warnings, ['apisix.stream_proxy: not listening, because apisix.proxy_mode is "http"']);
  });

  it('still validates listeners when proxy_mode is "http"', () => {
    assert.equal(
      parseError(`apisix:\n  proxy_mode: http\n  stream_proxy:\n    tcp: [0]\n`),
      'apisix.stream_proxy.tcp[0]: 0 is not a valid port',
    );
  });

  it('accepts the legacy stream_proxy.only silently, whatever its value', () => {
    for (const only of ['true', 'false']) {
      const { config, warnings } = parseOk(`apisix:\n  stream_proxy:\n    only: ${only}\n    tcp: [9100]\n`);
      assert.equal(config.streamEnabled, true);
      assert.equal(config.stream.tcp.length, 1);
      assert.deepEqual(warnings, []);
    }
  });

  const errors: Array<[string, string]> = [
    ['apisix: 5\n', 'apisix: expected a mapping, got 5'],
    ['apisix:\n  enable_admin: yes\n', 'apisix.enable_admin: expected true or false, got "yes"'],
    ['apisix:\n  proxy_mode: tcp\n', 'apisix.proxy_mode: expected "http", "stream" or "http&stream", got "tcp"'],
    ['apisix:\n  stream_proxy: [9100]\n', 'apisix.stream_proxy: expected a mapping, got a list'],
  ];
  for (const [yaml, expected] of errors) {
    it(`rejects: ${expected}`, () => assert.equal(parseError(yaml), expected));
  }
});

describe('sqlite, access log and shutdown grace', () => {
  it('keeps the sqlite path as written', () => {
    assert.equal(parseOk('deployment:\n  sqlite:\n    path: ../x/y.db\n').config.sqlite.path, '../x/y.db');
    assert.equal(parseOk('deployment:\n  sqlite:\n    path: /abs/y.db\n').config.sqlite.path, '/abs/y.db');
  });

  it('reads the stream access log settings', () => {
    const yaml = 'nginx_config:\n  stream:\n    enable_access_log: false\n    access_log: logs/access_stream.log\n';
    assert.deepEqual(parseOk(yaml).config.log.access, { enabled: false, path: 'logs/access_stream.log' });
  });

  const times: Array<[string, number]> = [
    ['240s', 240_000],
    ['1m', 60_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['"10"', 10_000],
    ['30', 30_000],
    ['1.5', 1_500],
    ['0', 0],
  ];
  for (const [value, ms] of times) {
    it(`worker_shutdown_timeout ${value} -> ${ms} ms`, () => {
      assert.equal(parseOk(`nginx_config:\n  worker_shutdown_timeout: ${value}\n`).config.shutdownGraceMs, ms);
    });
  }

  const errors: Array<[string, string]> = [
    ['deployment:\n  sqlite:\n    path: ""\n', 'deployment.sqlite.path: expected a file path, got ""'],
    ['deployment:\n  sqlite:\n    path: 5\n', 'deployment.sqlite.path: expected a file path, got 5'],
    ['deployment:\n  sqlite: data.db\n', 'deployment.sqlite: expected a mapping, got "data.db"'],
    ['nginx_config:\n  stream:\n    access_log: ""\n', 'nginx_config.stream.access_log: expected a file path, got ""'],
    ['nginx_config:\n  stream:\n    enable_access_log: on\n', 'nginx_config.stream.enable_access_log: expected true or false, got "on"'],
  ];
  for (const bad of ['abc', '10x', '-1', '1.5s', 'true', '"1 m"', '"s"']) {
    errors.push([
      `nginx_config:\n  worker_shutdown_timeout: ${bad}\n`,
      `nginx_config.worker_shutdown_timeout: expected a time like "240s", "1m" or "500ms" (or seconds), got ${
        bad === '-1' || bad === 'true' ? bad : JSON.stringify(bad.replace(/"/g, ''))
      }`,
    ]);
  }
  errors.push(['nginx_config:\n  worker_shutdown_timeout: 30d\n', 'nginx_config.worker_shutdown_timeout: "30d" is too long (at most 24 days)']);
  for (const [yaml, expected] of errors) {
    it(`rejects: ${expected}`, () => assert.equal(parseError(yaml), expected));
  }
});

describe('warnings for keys weir does not read', () => {
  it('names each unknown key, at any level', () => {
    const yaml = [
      'foo: 1',
      'apisix:',
      '  enable_admn: true',
      'deployment:',
      '  admin:',
      '    admin_listen: {ip: 127.0.0.1, prot: 1}',
      '    admin_key: [{name: a, key: k, role: admin, roles: x}]',
      '  sqlite: {path: a.db, wal: true}',
      'nginx_config:',
      '  stream: {acces_log: x}',
    ].join('\n');
    assert.deepEqual(parseOk(yaml).warnings, [
      'unknown key foo (ignored)',
      'unknown key apisix.enable_admn (ignored)',
      'unknown key deployment.admin.admin_key[0].roles (ignored)',
      'unknown key deployment.admin.admin_listen.prot (ignored)',
      'unknown key deployment.sqlite.wal (ignored)',
      'unknown key nginx_config.stream.acces_log (ignored)',
    ]);
  });

  it('lists the APISIX keys weir ignores in one warning', () => {
    const yaml = [
      'apisix:',
      '  node_listen: 9080',
      '  enable_reuseport: true',
      '  ssl: {fallback_sni: a.test}',
      'deployment:',
      '  role: traditional',
      '  etcd: {host: ["http://127.0.0.1:2379"]}',
      '  admin: {admin_api_version: v3}',
      'nginx_config:',
      '  error_log_level: warn',
      '  stream: {access_log_format: "$remote_addr"}',
      'plugins: [key-auth]',
      'stream_plugins: [ip-restriction]',
      'plugin_attr: {}',
    ].join('\n');
    assert.deepEqual(parseOk(yaml).warnings, [
      'not used by weir (ignored): plugins, apisix.node_listen, apisix.enable_reuseport, ' +
        'deployment.admin.admin_api_version, deployment.etcd, ' +
        'nginx_config.error_log_level, nginx_config.stream.access_log_format',
    ]);
  });

  it("points APISIX 2.x admin keys to their 3.x place", () => {
    assert.deepEqual(parseOk('apisix:\n  admin_key: []\n  port_admin: 9180\n').warnings, [
      'apisix.admin_key is where APISIX 2.x kept this setting; weir reads deployment.admin.admin_key (ignored)',
      'apisix.port_admin is where APISIX 2.x kept this setting; weir reads deployment.admin.admin_listen.port (ignored)',
    ]);
  });

  it('treats "__proto__" as an ordinary unknown key', () => {
    assert.deepEqual(parseOk('__proto__: {x: 1}\napisix: {__proto__: 5}\n').warnings, [
      'unknown key __proto__ (ignored)',
      'unknown key apisix.__proto__ (ignored)',
    ]);
  });
});

describe('YAML problems', () => {
  const errors: Array<[string, string]> = [
    ['apisix:\n  enable_admin: true\n  enable_admin: false\n', 'test.yaml: YAML syntax error at line 3, column 3: Map keys must be unique'],
    ['apisix:\n  proxy_mode: "http\n', 'test.yaml: YAML syntax error at line 3, column 1: Missing closing "quote'],
    ['apisix: 1\n---\napisix: 2\n', 'test.yaml: YAML syntax error at line 2, column 1: expected one YAML document, found more'],
    ['- 9100\n', 'test.yaml: expected a mapping of settings at the top level, got a list'],
    ['just text\n', 'test.yaml: expected a mapping of settings at the top level, got "just text"'],
  ];
  for (const [yaml, expected] of errors) {
    it(`rejects: ${expected}`, () => assert.equal(parseError(yaml), expected));
  }

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c']]) lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    lines.push(`e: [${Array(9).fill('*d').join(', ')}]`);
    assert.equal(parseError(lines.join('\n')), 'test.yaml: Excessive alias count indicates a resource exhaustion attack');
  });

  it('passes YAML warnings on', () => {
    assert.deepEqual(parseOk('deployment:\n  sqlite:\n    path: !custom a.db\n').warnings, [
      'test.yaml: YAML at line 3, column 11: Unresolved tag: !custom',
    ]);
  });
});

describe('APISIX documentation examples (apisix-stream-proxy.zh.md)', () => {
  // The config.yaml snippets of APISIX's stream proxy page, as printed there.
  const examples: Array<[string, string, Partial<Config>]> = [
    [
      'tcp and udp lists',
      'apisix:\n  stream_proxy: # TCP/UDP proxy\n    tcp: # TCP proxy address list\n      - 9100\n      - "127.0.0.1:9101"\n    udp: # UDP proxy address list\n      - 9200\n      - "127.0.0.1:9211"\n',
      {
        enableAdmin: true,
        stream: {
          tcp: [
            { host: '0.0.0.0', port: 9100, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
            { host: '127.0.0.1', port: 9101, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
          ],
          udp: [
            { host: '0.0.0.0', port: 9200, origin: 'apisix.stream_proxy.udp[0]' },
            { host: '127.0.0.1', port: 9211, origin: 'apisix.stream_proxy.udp[1]' },
          ],
        },
      },
    ],
    [
      'enable_admin: false with only: false',
      'apisix:\n  enable_admin: false\n  stream_proxy: # TCP/UDP proxy\n    only: false\n    tcp: # TCP proxy address list\n      - 9100\n',
      {
        enableAdmin: false,
        stream: { tcp: [{ host: '0.0.0.0', port: 9100, tls: false, origin: 'apisix.stream_proxy.tcp[0]' }], udp: [] },
      },
    ],
    [
      'server_addr filtering example',
      'apisix:\n  stream_proxy: # TCP/UDP proxy\n    tcp: # TCP proxy address list\n      - 9100 # by default uses 0.0.0.0\n      - "127.0.0.10:9101"\n',
      {
        enableAdmin: true,
        stream: {
          tcp: [
            { host: '0.0.0.0', port: 9100, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
            { host: '127.0.0.10', port: 9101, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
          ],
          udp: [],
        },
      },
    ],
    [
      'TLS over TCP',
      'apisix:\n  stream_proxy: # TCP/UDP proxy\n    tcp: # TCP proxy address list\n      - addr: 9100\n        tls: true\n',
      {
        enableAdmin: true,
        stream: { tcp: [{ host: '0.0.0.0', port: 9100, tls: true, origin: 'apisix.stream_proxy.tcp[0]' }], udp: [] },
      },
    ],
  ];
  for (const [name, yaml, expected] of examples) {
    it(`loads "${name}" without warnings`, () => {
      const { config, warnings } = parseOk(yaml);
      assert.deepEqual(warnings, []);
      assert.equal(config.streamEnabled, true);
      assert.equal(config.enableAdmin, expected.enableAdmin);
      assert.deepEqual(config.stream, expected.stream);
    });
  }
});

describe('the shipped conf/config.yaml', () => {
  it('parses with zero warnings into the documented setup', () => {
    const text = readFileSync(new URL('../../conf/config.yaml', import.meta.url), 'utf8');
    const { config, warnings } = parseConfig(text, 'conf/config.yaml', {});
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, {
      ...DEFAULTS,
      source: 'conf/config.yaml',
      stream: {
        tcp: [
          { host: '0.0.0.0', port: 9100, tls: false, origin: 'apisix.stream_proxy.tcp[0]' },
          { host: '127.0.0.1', port: 9101, tls: false, origin: 'apisix.stream_proxy.tcp[1]' },
        ],
        udp: [],
      },
      admin: { ...DEFAULTS.admin, keys: [{ name: 'admin', key: 'edd1c9f034335f136f87ad84b625c8f1', role: 'admin' }] },
    });
  });
});
