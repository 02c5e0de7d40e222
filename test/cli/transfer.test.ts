// export / import / migrate / check on a real SQLite file: lossless round trip, dry-run diff, whole-file validation.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS } from '../../src/embedded.gen';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/weir';
import { openSqlite } from '../../src/runtime/index';
import { cli, writeCliConfig } from './harness';

const UPSTREAM = '{"nodes":[{"host":"10.0.0.5","port":3306,"weight":3}],"type":"roundrobin","timeout":{"connect":3,"send":6,"read":6}}';

describe('weir export / import / migrate / check', () => {
  const dir = tempDir('weir-cli-io-');
  let c: string[];
  let dbPath: string;
  const file = (name: string, text: string): string => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    ({ dbPath } = writeCliConfig(dir.path));
    c = ['-c', join(dir.path, 'config.yaml')];
    const n = MIGRATIONS.length;
    const all = MIGRATIONS.map((m) => m.name).join(', ');
    assert.ok((await cli(['migrate', ...c])).out.endsWith(`schema version 0 -> ${n} (applied ${all})\n`));
    assert.ok((await cli(['migrate', ...c])).out.endsWith(`schema version ${n} -> ${n} (up to date)\n`));
    assert.equal((await cli(['upstreams', 'put', 'db', UPSTREAM, ...c])).code, 0);
    assert.equal((await cli(['stream_routes', 'put', 'mysql', '{"server_port":9101,"upstream_id":"db","name":"mysql: \\"main\\""}', ...c])).code, 0);
    assert.equal((await cli(['stream_routes', 'put', '2', '{"remote_addr":"::1","upstream":{"nodes":{"[::1]:80":1}}}', ...c])).code, 0);
  });
  after(() => dir.remove());

  it('export | import into an empty file gives the same rows, and a second export is identical', async () => {
    const first = await cli(['export', ...c]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^# weir export of .* at store revision 3\nstream_routes:\n/);
    assert.ok(first.out.endsWith('ssls: []\nservices: []\nplugin_metadata: []\n#END\n'), first.out);
    const other = join(dir.path, 'copy.db');
    const imported = await cli(['import', '-', '--db', other, ...c], first.out);
    assert.equal(imported.out, 'import -: 3 added, 0 changed, 0 removed, 0 unchanged\n', imported.err);
    const again = await cli(['export', '--db', other, ...c]);
    // Only the header (path) differs: values, ids, timestamps and order are the same.
    assert.equal(again.out.split('\n').slice(1).join('\n'), first.out.split('\n').slice(1).join('\n'));
    // Importing the same file again changes nothing (the revision stays put).
    const noop = await cli(['import', '-', '--db', other, ...c], first.out);
    assert.equal(noop.out, 'import -: 0 added, 0 changed, 0 removed, 3 unchanged\n');
  });

  it('--dry-run prints the diff and writes nothing; import then applies exactly that', async () => {
    const text = [
      'upstreams:',
      `  - ${UPSTREAM.replace('3306', '3307').replace('{', '{"id": "db", ')}`,
      '  - { id: new, nodes: { "127.0.0.1:1": 1 } }',
      'stream_routes:',
      '  - { id: mysql, server_port: 9101, upstream_id: db, name: "mysql: \\"main\\"" }',
      '',
    ].join('\n');
    const path = file('next.yaml', text);
    const before = (await cli(['export', ...c])).out;
    const dry = await cli(['import', path, '--dry-run', ...c]);
    assert.equal(dry.code, 0, dry.err);
    assert.equal(
      dry.out,
      `- stream_routes/2\n~ upstreams/db (nodes)\n+ upstreams/new\nimport ${path}: 1 to add, 1 to change, 1 to remove, 1 unchanged (dry run, nothing written)\n`,
    );
    assert.equal((await cli(['export', ...c])).out, before);
    const merge = await cli(['import', path, '--dry-run', '--merge', ...c]);
    assert.ok(merge.out.endsWith('1 to add, 1 to change, 0 to remove, 1 unchanged (dry run, nothing written)\n'));
    const real = await cli(['import', path, ...c]);
    assert.equal(real.out, `import ${path}: 1 added, 1 changed, 1 removed, 1 unchanged\n`);
    assert.equal(JSON.parse((await cli(['upstreams', 'get', 'db', ...c])).out).value.nodes[0].port, 3307);
    assert.equal((await cli(['stream_routes', 'get', '2', ...c])).code, 1);
  });

  it('refuses an invalid file as a whole (exit 2, first problem named, count of the rest) and writes nothing', async () => {
    const before = (await cli(['export', ...c])).out;
    const cases: Array<[string, string]> = [
      ['upstreams:\n  - { id: a, nodes: { "127.0.0.1:1": 1 } }\n  - { id: b, nodes: 5 }\n  - { nodes: {} }\n', 'upstreams[1] (id "b"): invalid configuration: '],
      ['stream_routes:\n  - { id: r, upstream_id: ghost }\n', 'stream_routes "r": failed to fetch upstream info by upstream id [ghost], response code: 404'],
      ['routes:\n  - { id: 1, uri: / }\n', '"routes" is not something weir stores (stream_routes, upstreams, ssls, services, plugin_metadata, stream_listeners)'],
      ['upstreams:\n  - { id: a, nodes: {"127.0.0.1:1": 1} }\n  - { id: a, nodes: {"127.0.0.1:1": 1} }\n', 'upstreams[1] (id "a"): duplicate id'],
      ['upstreams: [\n', 'not valid YAML: '],
      // Removing an upstream that a kept (merge) route still uses.
    ];
    for (const [text, message] of cases) {
      const path = file('bad.yaml', text);
      const r = await cli(['import', path, ...c]);
      assert.equal(r.code, 2, r.err);
      assert.ok(r.err.startsWith(`weir: import ${path}: ${message}`), r.err);
      assert.equal(r.err.trimEnd().split('\n').length, 1);
    }
    const many = await cli(['import', file('bad.yaml', cases[0]![0]), ...c]);
    assert.ok(many.err.endsWith('(and 1 more)\n'), many.err);
    assert.equal((await cli(['export', ...c])).out, before);
  });

  it('check passes a clean store and names a hand-written bad row with its id and reason (exit 2)', async () => {
    const ok = await cli(['check', ...c]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /: 3 objects ok, 1 stream routes served/);
    const db = openSqlite(dbPath);
    db.prepare('INSERT INTO stream_routes (id, value) VALUES (?, ?)').run('hand', '{"id":"hand","server_port":"nope","upstream_id":"db"}');
    db.prepare('INSERT INTO upstreams (id, value) VALUES (?, ?)').run('broken', '{not json');
    db.close();
    const bad = await cli(['check', ...c]);
    assert.equal(bad.code, 2);
    const lines = bad.err.trimEnd().split('\n');
    assert.ok(lines.some((l) => l.startsWith('weir: stream_routes/hand: skipped: ') && l.includes('server_port')), bad.err);
    assert.ok(lines.some((l) => l.includes('upstreams row "broken": value is not valid JSON')), bad.err);
    assert.match(lines.at(-1)!, /^weir: check: 2 problem\(s\) in /);
  });

  it('check loads apisix.ssl.ssl_trusted_certificate as start does: a missing CA file is exit 2', async () => {
    const config = join(dir.path, 'config-ca.yaml');
    writeFileSync(config, `apisix:\n  ssl:\n    ssl_trusted_certificate: ${join(dir.path, 'no-such-ca.pem')}\n` +
      `deployment:\n  sqlite:\n    path: ${JSON.stringify(dbPath)}\n`);
    const r = await cli(['check', '-c', config]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^weir: config error: apisix\.ssl\.ssl_trusted_certificate: /);
  });
});

describe('weir export / import with services and plugin_metadata', () => {
  const dir = tempDir('weir-cli-svc-');
  let c: string[];
  before(async () => {
    writeCliConfig(dir.path);
    c = ['-c', join(dir.path, 'config.yaml')];
    assert.equal((await cli(['upstreams', 'put', 'db', UPSTREAM, ...c])).code, 0);
    const svc = await cli(['services', 'put', 'edge', '{"upstream_id":"db","plugins":{"ip-restriction":{"blacklist":["192.0.2.0/24"]}}}', ...c]);
    assert.equal(svc.code, 0, svc.err);
    assert.equal((await cli(['stream_routes', 'put', 'r', '{"service_id":"edge","server_port":9100}', ...c])).code, 0);
    const meta = await cli(['plugin_metadata', 'put', 'limit-conn', '{"note":"shared"}', ...c]);
    assert.equal(meta.code, 0, meta.err);
    assert.deepEqual(JSON.parse(meta.out), { key: '/apisix/plugin_metadata/limit-conn', value: { id: 'limit-conn', note: 'shared' } });
  });
  after(() => dir.remove());

  it('round-trips both kinds losslessly (plugin_metadata without timestamps), in reference order', async () => {
    const first = await cli(['export', ...c]);
    assert.match(first.out, /\nservices:\n {2}- id: edge\n/);
    assert.match(first.out, /\nplugin_metadata:\n {2}- id: limit-conn\n {4}note: shared\n#END\n$/);
    const other = join(dir.path, 'copy.db');
    const imported = await cli(['import', '-', '--db', other, ...c], first.out);
    assert.equal(imported.out, 'import -: 4 added, 0 changed, 0 removed, 0 unchanged\n', imported.err);
    const again = await cli(['export', '--db', other, ...c]);
    assert.equal(again.out.split('\n').slice(1).join('\n'), first.out.split('\n').slice(1).join('\n'));
  });

  it('refuses a file whose route names a missing service, or a service whose plugin is unknown', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'stream_routes:\n  - { id: x, service_id: ghost }\n');
    const r = await cli(['import', bad, '--merge', ...c]);
    assert.equal(r.code, 2);
    assert.match(r.err, /stream_routes "x": failed to fetch service info by service id \[ghost\], response code: 404/);
    writeFileSync(bad, 'services:\n  - { id: s, plugins: { nope: {} } }\n');
    const u = await cli(['import', bad, '--merge', ...c]);
    assert.match(u.err, /services\[0\] \(id "s"\): unknown plugin \[nope\]/);
    // removing a service a kept route uses
    writeFileSync(bad, 'upstreams:\n  - { id: db, nodes: [{ host: 10.0.0.5, port: 3306, weight: 3 }], type: roundrobin, timeout: { connect: 3, send: 6, read: 6 } }\nstream_routes:\n  - { id: r, service_id: edge, server_port: 9100 }\n');
    const gone = await cli(['import', bad, ...c]);
    assert.equal(gone.code, 2);
    assert.match(gone.err, /services "edge": removed but stream_route \[r\] still uses it/);
  });

  it('check compiles every plugin chain (routes, services used or not) and validates plugin_metadata, naming each object', async () => {
    const ok = await cli(['check', ...c]);
    assert.equal(ok.code, 0, ok.err);
    const dbPath = join(dir.path, 'weir.db');
    const db = openSqlite(dbPath);
    // hand-written rows the Admin API would have refused
    db.prepare('INSERT INTO services (id, value) VALUES (?, ?)').run('unused', '{"id":"unused","plugins":{"limit-conn":{"conn":0,"burst":0,"default_conn_delay":1,"key":"remote_addr"}}}');
    db.prepare('INSERT INTO services (id, value) VALUES (?, ?)').run('split', '{"id":"split","plugins":{"traffic-split":{"rules":[{"weighted_upstreams":[{"upstream_id":"nope"}]}]}}}');
    db.prepare('INSERT INTO plugin_metadata (id, value) VALUES (?, ?)').run('syslog', '{"id":"syslog","log_format":"not an object"}');
    db.prepare('INSERT INTO stream_routes (id, value) VALUES (?, ?)').run('lim', '{"id":"lim","server_port":9101,"upstream_id":"db","plugins":{"limit-conn":{"conn":1}}}');
    db.close();
    const bad = await cli(['check', ...c]);
    assert.equal(bad.code, 2);
    const lines = bad.err.trimEnd().split('\n');
    assert.match(lines[0]!, /^weir: stream_routes\/lim: skipped: failed to check the configuration of stream plugin \[limit-conn\]: property "burst" is required/);
    assert.match(lines[1]!, /^weir: services\/split: traffic-split: upstream nope not found or cannot forward$/);
    assert.match(lines[2]!, /^weir: services\/unused: failed to check the configuration of stream plugin \[limit-conn\]: property "conn" validation failed/);
    assert.match(lines[3]!, /^weir: plugin_metadata\/syslog: invalid configuration: property "log_format" validation failed/);
    assert.equal(lines[4], `weir: check: 4 problem(s) in ${dbPath}`);
  });
});
