// Offline object commands on a real SQLite file: Admin API envelopes and messages, exit codes 0/1/2.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/weir';
import { cli, writeCliConfig } from './harness';

describe('weir RESOURCE list|get|put|delete', () => {
  const dir = tempDir('weir-cli-');
  let c: string[];

  before(() => {
    c = ['-c', writeCliConfig(dir.path).configPath];
  });
  after(() => dir.remove());

  it('reading a database that does not exist is a runtime error and creates nothing', async () => {
    const r = await cli(['upstreams', 'list', ...c]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^weir: database .*weir\.db does not exist/);
    assert.equal(r.err.split('\n').length, 2); // one line
  });

  it('put creates (inline JSON) and replaces; get and list print the Admin API envelopes', async () => {
    const put = await cli(['upstreams', 'put', 'u1', '{"nodes":{"127.0.0.1:1995":1},"type":"roundrobin"}', ...c]);
    assert.equal(put.code, 0, put.err);
    const created = JSON.parse(put.out);
    assert.equal(created.key, '/apisix/upstreams/u1');
    assert.deepEqual(created.value.nodes, { '127.0.0.1:1995': 1 });
    assert.equal(typeof created.value.create_time, 'number');

    const file = join(dir.path, 'route.json');
    writeFileSync(file, '{"id":"r1","upstream_id":"u1","server_port":9100}');
    assert.equal((await cli(['stream_routes', 'put', `@${file}`, ...c])).code, 0);
    const fromStdin = await cli(['stream_routes', 'put', 'r2', '-', ...c], '{"remote_addr":"10.0.0.0/8","upstream_id":"u1"}');
    assert.equal(fromStdin.code, 0, fromStdin.err);

    const got = JSON.parse((await cli(['stream_routes', 'get', 'r1', ...c])).out);
    assert.equal(got.key, '/apisix/stream_routes/r1');
    assert.equal(got.value.server_port, 9100);
    assert.equal(typeof got.modifiedIndex, 'number');
    const list = JSON.parse((await cli(['stream_routes', 'list', ...c])).out);
    assert.equal(list.total, 2);
    assert.deepEqual(list.list.map((i: { key: string }) => i.key), ['/apisix/stream_routes/r1', '/apisix/stream_routes/r2']);
  });

  it('refusals carry the Admin API message and exit 2; a missing object exits 1', async () => {
    const cases: Array<[string[], string, number, string?]> = [
      [['stream_routes', 'put', 'r3', '{"upstream_id":"nope"}'], 'weir: stream_routes put r3: failed to fetch upstream info by upstream id [nope], response code: 404\n', 2],
      [['stream_routes', 'put', 'r3', '{"server_port":"x"}'], '', 2],
      [['stream_routes', 'put', 'r3', '{"upstream_id":'], 'weir: stream_routes put: invalid request body: ', 2],
      [['upstreams', 'put', '{"nodes":{"127.0.0.1:1":1}}'], 'weir: upstreams put: missing upstream id\n', 2],
      [['upstreams', 'delete', 'u1'], 'weir: upstreams delete u1: can not delete this upstream, stream_route [r1] is still using it now\n', 2],
      [['upstreams', 'get', 'zz'], 'weir: upstreams get zz: Key not found\n', 1],
      [['stream_routes', 'put', 'r3', `@${join(dir.path, 'missing.json')}`], 'weir: cannot read ', 2],
    ];
    for (const [argv, prefix, code] of cases) {
      const r = await cli([...argv, ...c]);
      assert.equal(r.code, code, `${argv.join(' ')}: ${r.err}`);
      assert.ok(r.err.startsWith(prefix), `${argv.join(' ')}: ${r.err}`);
      assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
      assert.equal(r.out, '');
    }
  });

  it('delete answers the Admin API body; --force deletes an upstream in use', async () => {
    assert.deepEqual(JSON.parse((await cli(['stream_routes', 'delete', 'r2', ...c])).out), {
      deleted: '1',
      key: '/apisix/stream_routes/r2',
    });
    assert.equal((await cli(['upstreams', 'delete', 'u1', '--force', ...c])).code, 0);
    assert.equal((await cli(['upstreams', 'get', 'u1', ...c])).code, 1);
  });

  it('--db overrides the config path', async () => {
    const other = join(dir.path, 'other.db');
    assert.equal((await cli(['upstreams', 'put', 'x', '{"nodes":{"127.0.0.1:2":1}}', '--db', other, ...c])).code, 0);
    assert.equal(JSON.parse((await cli(['upstreams', 'list', '--db', other, ...c])).out).total, 1);
    assert.equal((await cli(['upstreams', 'get', 'x', ...c])).code, 1);
  });

  it('a config error exits 2 with one line', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'apisix:\n  stream_proxy:\n    tcp: [99999]\n');
    const r = await cli(['upstreams', 'list', '-c', bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^weir: config error: apisix\.stream_proxy\.tcp\[0\]/);
  });
});

describe('weir ssls put: private keys sealed with the same keyring as start', () => {
  const dir = tempDir('weir-cli-ssl-');
  after(() => dir.remove());
  const fixture = (name: string): string => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), 'utf8');

  it('stores no key text in the file, hides it on put, and export opens it with the keyring', async () => {
    const { configPath, dbPath } = writeCliConfig(dir.path);
    const c = ['-c', configPath];
    const key = fixture('a.test.com.key');
    const body = JSON.stringify({ cert: fixture('a.test.com.crt'), key, snis: ['a.test.com'] });
    const put = await cli(['ssls', 'put', 's1', body, ...c]);
    assert.equal(put.code, 0, put.err);
    assert.equal(JSON.parse(put.out).value.key, undefined);

    const keyBody = key.split('\n')[1]!; // the first base64 line of the PEM
    assert.ok(keyBody.length > 40);
    const file = readFileSync(dbPath).toString('latin1') + readFileSync(`${dbPath}-wal`, { flag: 'a+' }).toString('latin1');
    assert.equal(file.includes(keyBody), false, 'the database holds the key in clear');
    assert.ok(existsSync(join(dir.path, 'keyring')), 'the keyring start would use was created beside the database');

    // export opens the sealed key with the keyring (an export is a complete, secret backup)
    const exported = await cli(['export', ...c]);
    assert.equal(exported.code, 0, exported.err);
    assert.ok(exported.out.includes(keyBody));
  });
});

describe('weir stream_listeners', () => {
  const dir = tempDir('weir-cli-listeners-');
  let c: string[];
  before(() => {
    c = ['-c', writeCliConfig(dir.path).configPath];
  });
  after(() => dir.remove());

  it('put stores a listener for a running weir to bind; a port range is bad input; export lists them', async () => {
    const put = await cli(['stream_listeners', 'put', 'l1', '{"addr":"127.0.0.1:9555","protocol":"udp","on_change":{"action":"close"}}', ...c]);
    assert.equal(put.code, 0, put.err);
    const { value } = JSON.parse(put.out);
    assert.deepEqual(value, { id: 'l1', addr: '127.0.0.1:9555', protocol: 'udp', on_change: { action: 'close' }, create_time: value.create_time, update_time: value.update_time });
    const bad = await cli(['stream_listeners', 'put', 'l2', '{"addr":"127.0.0.1:1-2"}', ...c]);
    assert.deepEqual([bad.code, bad.err], [2, 'weir: stream_listeners put l2: invalid configuration: property "addr" validation failed: "127.0.0.1:1-2": one object is one address (no port ranges)\n']);
    const exported = await cli(['export', ...c]);
    assert.match(exported.out, /\nstream_listeners:\n {2}- id: l1\n {4}addr: 127\.0\.0\.1:9555\n {4}protocol: udp\n/);
    assert.equal((await cli(['stream_listeners', 'delete', 'l1', ...c])).code, 0);
    assert.doesNotMatch((await cli(['export', ...c])).out, /stream_listeners/);
  });

  it('check names a listener the proxy would skip: an address already listed by another object', async () => {
    assert.equal((await cli(['stream_listeners', 'put', 'a', '{"addr":"127.0.0.1:9556"}', ...c])).code, 0);
    const ok = await cli(['check', ...c]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /: 1 objects ok, 0 stream routes served/);
    assert.equal((await cli(['stream_listeners', 'put', 'b', '{"addr":"127.0.0.1:9556"}', ...c])).code, 0);
    const bad = await cli(['check', ...c]);
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.err.trimEnd().split('\n').slice(0, 1), ['weir: stream_listeners/b: skipped: tcp 127.0.0.1:9556 is already served by stream_listeners/a']);
    assert.match(bad.err, /weir: check: 1 problem\(s\) in /);
  });
});
