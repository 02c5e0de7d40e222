// The offline twins: `weir explain`, `--dry-run` on put and delete (nothing written, effects printed), and the
// shadowed-route warnings of `weir check`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/weir';
import { cli, writeCliConfig } from './harness';

function fileHash(path: string): string {
  const h = createHash('sha256');
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) h.update(readFileSync(p));
  return h.digest('hex');
}

describe('weir explain, --dry-run, check warnings', () => {
  const dir = tempDir('weir-cli-explain-');
  let c: string[];
  let db: string;

  before(async () => {
    const { configPath, dbPath } = writeCliConfig(dir.path);
    // one plain listener on 9100
    writeFileSync(configPath, `apisix:\n  stream_proxy:\n    tcp:\n      - "127.0.0.1:9100"\n${readFileSync(configPath, 'utf8')}`);
    c = ['-c', configPath];
    db = dbPath;
    assert.equal((await cli(['upstreams', 'put', 'u1', '{"nodes":{"127.0.0.1:1995":1,"127.0.0.1:1996":1}}', ...c])).code, 0);
    assert.equal((await cli(['stream_routes', 'put', 'a', '{"server_port":9100,"remote_addr":"10.0.0.0/16","upstream_id":"u1"}', ...c])).code, 0);
  });
  after(() => dir.remove());

  it('explain prints the Admin API answer, computed from the file', async () => {
    const r = await cli(['explain', '--server-port', '9100', '--remote-addr', '10.0.3.4', ...c]);
    assert.equal(r.code, 0, r.err);
    const answer = JSON.parse(r.out);
    assert.deepEqual([answer.route, answer.outcome, answer.listener.addr], [
      { id: 'a', upstream_id: 'u1', next_node: '127.0.0.1:1995' }, 'proxied', 'tcp 127.0.0.1:9100 (apisix.stream_proxy.tcp[0])',
    ]);
    const miss = JSON.parse((await cli(['explain', '--server-port', '9100', '--remote-addr', '192.0.2.1', ...c])).out);
    assert.deepEqual([miss.route, miss.skipped], [null, [{ id: 'a', field: 'remote_addr', reason: 'remote_addr 192.0.2.1 ∉ 10.0.0.0/16' }]]);
  });

  it('explain reads stream_listeners objects like config items, their PROXY protocol flags included', async () => {
    const listener = '{"addr":"127.0.0.1:9300","proxy_protocol":true,"proxy_protocol_to_upstream":true}';
    assert.equal((await cli(['stream_listeners', 'put', 'pp', listener, ...c])).code, 0);
    assert.equal((await cli(['stream_routes', 'put', 'pp', '{"server_port":9300,"remote_addr":"203.0.113.0/24","upstream_id":"u1"}', ...c])).code, 0);
    const r = await cli(['explain', '--server-port', '9300', '--remote-addr', '203.0.113.7', '--proxy-peer', '127.0.0.1:4000', ...c]);
    assert.equal(r.code, 0, r.err);
    const answer = JSON.parse(r.out);
    assert.deepEqual([answer.listener, answer.route?.id, answer.outcome], [
      { addr: 'tcp 127.0.0.1:9300 (stream_listeners/pp)', tls: null, proxy_protocol: true, proxy_protocol_to_upstream: true }, 'pp', 'proxied',
    ]);
    assert.equal((await cli(['stream_routes', 'delete', 'pp', ...c])).code, 0);
    assert.equal((await cli(['stream_listeners', 'delete', 'pp', ...c])).code, 0);
  });

  it('explain refuses a malformed question with exit code 2, naming the option', async () => {
    const r = await cli(['explain', '--server-port', '9100', ...c]);
    assert.deepEqual([r.code, r.err], [2, 'weir: explain: missing --remote-addr (the client address to explain)\n']);
  });

  it('put --dry-run prints the object, the effects and the warnings, and writes nothing', async () => {
    const hash = fileHash(db);
    const r = await cli(['stream_routes', 'put', 'b', '{"server_port":9100,"remote_addr":"10.0.1.0/24","upstream_id":"u1"}', '--dry-run', ...c]);
    assert.equal(r.code, 0, r.err);
    const answer = JSON.parse(r.out);
    assert.equal(answer.key, '/apisix/stream_routes/b');
    assert.equal(answer.dry_run, true);
    assert.deepEqual(answer.effects.routes, []);
    assert.deepEqual(answer.warnings.map((w: { route: string; shadowed_by: string }) => `${w.route}<${w.shadowed_by}`), ['b<a']);
    assert.equal(fileHash(db), hash);
    assert.equal((await cli(['stream_routes', 'get', 'b', ...c])).code, 1);
  });

  it('delete --dry-run on an upstream in use: refused as the real delete; with --force, the broken reference', async () => {
    const refused = await cli(['upstreams', 'delete', 'u1', '--dry-run', ...c]);
    assert.deepEqual([refused.code, refused.err], [2, 'weir: upstreams delete u1: can not delete this upstream, stream_route [a] is still using it now\n']);
    const hash = fileHash(db);
    const forced = JSON.parse((await cli(['upstreams', 'delete', 'u1', '--force', '--dry-run', ...c])).out);
    assert.deepEqual(forced.effects.broken_references, [{ from: '/apisix/stream_routes/a', field: 'upstream_id', to: '/apisix/upstreams/u1' }]);
    assert.equal(fileHash(db), hash);
  });

  it('a real put reports the shadowing it causes; check warns and still passes', async () => {
    const put = JSON.parse((await cli(['stream_routes', 'put', 'b', '{"server_port":9100,"remote_addr":"10.0.1.0/24","upstream_id":"u1"}', ...c])).out);
    assert.equal(put.warnings[0].route, 'b');
    const check = await cli(['check', ...c]);
    assert.equal(check.code, 0);
    assert.equal(
      check.err,
      'weir: warning: stream_routes/b: stream route b (server_port 9100, remote_addr 10.0.1.0/24) can never match: route a (server_port 9100, remote_addr 10.0.0.0/16) takes precedence and matches every connection it matches\n',
    );
    assert.match(check.out, /2 stream routes served \(revision \d+\); 1 shadowed \(see the warnings\)\n$/);
  });
});
