// ${{VAR}} / ${{VAR:=default}} substitution: where it applies, type conversion, and the error messages.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { substituteEnv } from '../../src/config/env';
import { parseError, parseOk, streamYaml } from './helpers';

describe('substituteEnv', () => {
  it('replaces references in string values at any depth and leaves keys alone', () => {
    const tree = { a: { b: ['x-${{X}}', '${{Y:=dflt}}'] }, '${{X}}': 'k' };
    const { tree: out, converted } = substituteEnv(tree, { X: 'one' });
    assert.deepEqual(out, { a: { b: ['x-one', 'dflt'] }, '${{X}}': 'k' });
    assert.deepEqual([...converted], []);
  });

  it('turns a substituted number or boolean into one, and remembers the text', () => {
    const tree = { p: '${{P}}', h: '${{H}}', t: '${{T}}', f: '${{F:=false}}', s: '${{S}}', lit: '9100' };
    const { tree: out, converted } = substituteEnv(tree, { P: '9100', H: '0x10', T: 'true', S: '12ab' });
    assert.deepEqual(out, { p: 9100, h: 16, t: true, f: false, s: '12ab', lit: '9100' });
    assert.deepEqual([...converted], [['p', '9100'], ['h', '0x10'], ['t', 'true'], ['f', 'false']]);
  });

  it('does not touch the input tree', () => {
    const tree = { a: ['${{A}}'] };
    substituteEnv(tree, { A: '1' });
    assert.deepEqual(tree, { a: ['${{A}}'] });
  });

  it('leaves shell-style $VAR and ${VAR} as they are', () => {
    assert.deepEqual(substituteEnv({ a: '$HOME ${HOME} ${{' }, { HOME: '/h' }).tree, { a: '$HOME ${HOME} ${{' });
  });
});

describe('substitution through parseConfig', () => {
  it('fills listeners, ports and paths from the given environment', () => {
    const yaml = [
      'apisix:',
      '  stream_proxy:',
      '    tcp:',
      '      - ${{TCP_PORT}}',
      '      - "${{HOST}}:${{PORT2:=9101}}"',
      'deployment:',
      '  admin:',
      '    admin_listen:',
      '      port: ${{ ADMIN_PORT := 9181 }}',
      '  sqlite:',
      '    path: ${{DB_DIR}}/weir.db',
    ].join('\n');
    const { config, warnings } = parseOk(yaml, { TCP_PORT: '9100', HOST: '127.0.0.1', DB_DIR: '/var/lib/weir' });
    assert.deepEqual(
      config.stream.tcp.map((l) => [l.host, l.port]),
      [
        ['0.0.0.0', 9100],
        ['127.0.0.1', 9101],
      ],
    );
    assert.equal(config.admin.listen.port, 9181);
    assert.equal(config.sqlite.path, '/var/lib/weir/weir.db');
    assert.deepEqual(warnings, []);
  });

  it('prefers the environment over the default, even when it is empty', () => {
    assert.equal(parseOk('deployment:\n  sqlite:\n    path: ${{DB:=a.db}}\n', { DB: 'b.db' }).config.sqlite.path, 'b.db');
    assert.equal(
      parseError('deployment:\n  sqlite:\n    path: ${{DB:=a.db}}\n', { DB: '' }),
      'deployment.sqlite.path: expected a file path, got ""',
    );
  });

  it('reads booleans from the environment', () => {
    assert.equal(parseOk('apisix:\n  enable_admin: ${{EA}}\n', { EA: 'false' }).config.enableAdmin, false);
  });

  it('keeps a digits-only admin key as text', () => {
    const yaml = 'deployment:\n  admin:\n    admin_key:\n      - {name: a, key: "${{KEY}}", role: admin}\n';
    assert.deepEqual(parseOk(yaml, { KEY: '0123' }).config.admin.keys, [{ name: 'a', key: '0123', role: 'admin' }]);
  });

  it('uses only the env argument, not process.env', () => {
    const name = 'WEIR_TEST_ONLY_IN_PROCESS_ENV';
    process.env[name] = '9100';
    try {
      assert.equal(
        parseError(streamYaml([`\${{${name}}}`])),
        `apisix.stream_proxy.tcp[0]: environment variable ${name} is not set and "\${{${name}}}" has no default`,
      );
    } finally {
      delete process.env[name];
    }
  });

  const errors: Array<[string, string]> = [
    [
      'deployment:\n  admin:\n    admin_key:\n      - {name: a, key: "${{ADMIN_KEY}}", role: admin}\n',
      'deployment.admin.admin_key[0].key: environment variable ADMIN_KEY is not set and "${{ADMIN_KEY}}" has no default',
    ],
    [
      'apisix:\n  proxy_mode: "${{A-B}}"\n',
      'apisix.proxy_mode: "${{A-B}}" is not a valid variable reference (expected ${{NAME}} or ${{NAME:=default}})',
    ],
    [
      'apisix:\n  proxy_mode: "${{}}"\n',
      'apisix.proxy_mode: "${{}}" is not a valid variable reference (expected ${{NAME}} or ${{NAME:=default}})',
    ],
    [
      'plugins:\n  - ${{UNSET}}\n',
      'plugins[0]: environment variable UNSET is not set and "${{UNSET}}" has no default',
    ],
  ];
  for (const [yaml, expected] of errors) {
    it(`rejects: ${expected.slice(0, 60)}`, () => {
      assert.equal(parseError(yaml), expected);
    });
  }

  it('validates the substituted value like a written one', () => {
    assert.equal(
      parseError('deployment:\n  admin:\n    admin_listen:\n      port: ${{P}}\n', { P: '99999' }),
      'deployment.admin.admin_listen.port: expected an integer 1..65535, got 99999',
    );
  });
});
