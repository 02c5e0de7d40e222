// The offline CLI on a fleet data plane: writes are refused unless --force, which warns that a resync overwrites them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/weir';
import { cli } from './harness';

describe('weir RESOURCE put|delete and import on a data plane', () => {
  const dir = tempDir('weir-cli-fleet-');
  let c: string[];

  before(() => {
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, [
      'deployment:',
      '  role: data_plane',
      '  role_data_plane: {config_provider: etcd}',
      '  etcd: {host: ["http://127.0.0.1:1"]}',
      '  admin: {admin_key: [{name: admin, key: k0123456789abcdef, role: admin}]}',
      `  sqlite: {path: ${JSON.stringify(join(dir.path, 'weir.db'))}}`,
      '',
    ].join('\n'));
    c = ['-c', configPath];
  });
  after(() => dir.remove());

  it('refuses a put without --force (exit 2, one line) and writes nothing', async () => {
    const r = await cli(['upstreams', 'put', 'u1', '{"nodes":{"127.0.0.1:1995":1}}', ...c]);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      'weir: upstreams put u1: configuration is managed by etcd (deployment.role: data_plane); the next full resync from etcd overwrites local changes. Change it through the control plane or etcd, or pass --force\n',
    );
  });

  it('writes with --force, warning that the next resync overwrites it', async () => {
    const r = await cli(['upstreams', 'put', 'u1', '{"nodes":{"127.0.0.1:1995":1}}', '--force', ...c]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^warning: upstreams put u1: configuration is managed by etcd .* overwrites local changes\n$/);
    assert.equal(JSON.parse((await cli(['upstreams', 'get', 'u1', ...c])).out).value.id, 'u1');
    assert.equal((await cli(['upstreams', 'delete', 'u1', ...c])).code, 2);
    assert.equal((await cli(['upstreams', 'delete', 'u1', '--force', ...c])).code, 0);
  });

  it('refuses an import without --force; a dry run is allowed', async () => {
    const file = join(dir.path, 'in.yaml');
    writeFileSync(file, 'upstreams:\n  - id: u2\n    nodes: {"127.0.0.1:1995": 1}\n#END\n');
    assert.equal((await cli(['import', file, ...c])).code, 2);
    assert.equal((await cli(['import', file, '--dry-run', ...c])).code, 0);
    assert.equal((await cli(['import', file, '--force', ...c])).code, 0);
  });
});
