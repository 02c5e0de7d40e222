// loadConfig: explicit files, the conf/config.yaml-or-embedded fallback, unreadable files, and the embedded copy.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfigPath, EMBEDDED_SOURCE, loadConfig } from '../../src/config/load';
import { parseConfig } from '../../src/config/parse';
import { ConfigError } from '../../src/config/types';
import { DEFAULT_CONFIG_YAML } from '../../src/embedded.gen';

const SHIPPED = readFileSync(new URL('../../conf/config.yaml', import.meta.url), 'utf8');

/** The ConfigError message `fn` must throw. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  let dir = '';
  const startCwd = process.cwd();

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-config-'));
  });

  after(() => {
    process.chdir(startCwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads an explicit file and reports its absolute path as the source', () => {
    const file = join(dir, 'explicit.yaml');
    writeFileSync(file, 'apisix:\n  stream_proxy:\n    tcp: ["127.0.0.1:7000"]\ndeployment:\n  sqlite:\n    path: x.db\n');
    const { config, warnings } = loadConfig(file, {});
    assert.equal(config.source, file);
    assert.deepEqual(config.stream.tcp, [{ host: '127.0.0.1', port: 7000, tls: false, origin: 'apisix.stream_proxy.tcp[0]' }]);
    assert.equal(config.sqlite.path, 'x.db');
    assert.deepEqual(warnings, []);
  });

  it('resolves a relative explicit path against the working directory', () => {
    writeFileSync(join(dir, 'relative.yaml'), 'apisix:\n  enable_admin: false\n');
    process.chdir(dir);
    try {
      const { config } = loadConfig('relative.yaml', {});
      assert.equal(config.source, join(dir, 'relative.yaml'));
      assert.equal(config.enableAdmin, false);
    } finally {
      process.chdir(startCwd);
    }
  });

  it('passes the environment through', () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'deployment:\n  sqlite:\n    path: ${{WEIR_DB}}\n');
    assert.equal(loadConfig(file, { WEIR_DB: '/srv/weir.db' }).config.sqlite.path, '/srv/weir.db');
  });

  it('names a missing file', () => {
    const file = join(dir, 'nope.yaml');
    assert.equal(errorOf(() => loadConfig(file, {})), `cannot read config file ${file}: ENOENT: no such file or directory`);
  });

  it('names a directory given as the file', () => {
    assert.equal(
      errorOf(() => loadConfig(dir, {})),
      `cannot read config file ${dir}: EISDIR: illegal operation on a directory, read`,
    );
  });

  it('names the file in a YAML syntax error', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'apisix:\n  a: 1\n  a: 2\n');
    assert.equal(errorOf(() => loadConfig(file, {})), `${file}: YAML syntax error at line 3, column 3: Map keys must be unique`);
  });

  it('without a path, uses conf/config.yaml of the working directory when it exists', () => {
    const cwd = join(dir, 'with-conf');
    mkdirSync(join(cwd, 'conf'), { recursive: true });
    writeFileSync(join(cwd, 'conf', 'config.yaml'), 'apisix:\n  stream_proxy:\n    tcp: [7100]\n');
    process.chdir(cwd);
    try {
      assert.equal(defaultConfigPath(), join(cwd, 'conf', 'config.yaml'));
      const { config } = loadConfig(null, {});
      assert.equal(config.source, join(cwd, 'conf', 'config.yaml'));
      assert.deepEqual(config.stream.tcp.map((l) => l.port), [7100]);
    } finally {
      process.chdir(startCwd);
    }
  });

  it('without a path or conf/config.yaml, uses the embedded default', () => {
    const cwd = join(dir, 'bare');
    mkdirSync(cwd);
    process.chdir(cwd);
    try {
      const { config, warnings } = loadConfig(null, {});
      assert.equal(config.source, EMBEDDED_SOURCE);
      assert.deepEqual(config.stream.tcp.map((l) => `${l.host}:${l.port}`), ['0.0.0.0:9100', '127.0.0.1:9101']);
      assert.deepEqual(warnings, []);
    } finally {
      process.chdir(startCwd);
    }
  });
});

describe('the embedded default config', () => {
  it('is exactly conf/config.yaml (run `npm run gen` after editing it)', () => {
    assert.equal(DEFAULT_CONFIG_YAML, SHIPPED);
  });

  it('parses with zero warnings', () => {
    assert.deepEqual(parseConfig(DEFAULT_CONFIG_YAML, EMBEDDED_SOURCE, {}).warnings, []);
  });
});
