// A running weir picks up commits by other processes (the CLI, the sqlite3 shell), skips a bad hand-written
// row with one log line, and concurrent Admin API + CLI writers lose nothing and keep the file intact.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { configureErrorLog } from '../../src/log/logger';
import { openSqlite } from '../../src/runtime/index';
import { exchange, freePort, startEchoServer, type TestServer } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { spawnWeir, startTestWeir, waitFor, type TestWeir } from '../helpers/weir';

const stderrSink = (text: string): void => void process.stderr.write(text);

/** Run the CLI as its own process (tsx) and wait for it: the realistic "another process commits". */
async function cliProcess(args: string[]): Promise<{ code: number | string; err: string }> {
  const child = spawnWeir(args);
  const code = await child.exited;
  return { code, err: child.stderr() };
}

describe('offline edits reach a running weir', () => {
  let w: TestWeir;
  let echo: TestServer;
  let port: number;
  const logged: string[] = [];

  before(async () => {
    configureErrorLog({ sink: (text) => void logged.push(text) });
    echo = await startEchoServer('echo:');
    port = await freePort();
    w = await startTestWeir([`"127.0.0.1:${port}"`]);
  });
  after(async () => {
    await w.stop();
    await echo.close();
    configureErrorLog({ sink: stderrSink });
  });

  it('a route put by the CLI process serves traffic within a second and shows in the Admin API', async () => {
    const body = JSON.stringify({ upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } });
    const r = await cliProcess(['stream_routes', 'put', 'cli', body, '-c', w.configPath]);
    assert.equal(r.code, 0, r.err);
    const committed = Date.now();
    await waitFor(() => w.weir.snapshot().routes.length === 1, 10_000, 'snapshot with the CLI route');
    assert.ok(Date.now() - committed <= 1000);
    assert.equal((await exchange(port, 'hi')).data.toString(), 'echo:hi');
    assert.equal((await w.admin('GET', '/apisix/admin/stream_routes/cli')).status, 200);
  });

  it('a route deleted with the sqlite3 shell stops matching; one inserted there starts', async (t) => {
    const skip = missingServers('sqlite3');
    if (skip) return t.skip(skip);
    const shell = (sql: string) => spawnSync('sqlite3', [w.dbPath, sql], { encoding: 'utf8', timeout: 5000 });
    assert.equal(shell(`DELETE FROM stream_routes WHERE id = 'cli';`).status, 0);
    await waitFor(() => w.weir.snapshot().routes.length === 0, 10_000, 'route removed');
    const value = JSON.stringify({ id: 'sh', upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } });
    const ins = shell(`INSERT INTO stream_routes (id, value) VALUES ('sh', '${value}');`);
    assert.equal(ins.status, 0, ins.stderr);
    await waitFor(() => w.weir.snapshot().routes.length === 1, 10_000, 'shell route');
    assert.equal((await exchange(port, 'x')).data.toString(), 'echo:x');
  });

  it('an invalid hand-written row is logged once with its id and reason, and the rest keeps working', async () => {
    const db = openSqlite(w.dbPath);
    db.prepare('INSERT INTO stream_routes (id, value) VALUES (?, ?)').run('0bad', '{"id":"0bad","server_port":70000}');
    db.close();
    await waitFor(() => logged.some((l) => l.includes('stream_routes/0bad')), 10_000, 'log line for 0bad');
    // Another external commit must not repeat the line.
    const db2 = openSqlite(w.dbPath);
    db2.prepare(`UPDATE meta SET value = value WHERE key = 'revision'`).run();
    db2.prepare('INSERT INTO upstreams (id, value) VALUES (?, ?)').run('spare', '{"id":"spare","nodes":{"127.0.0.1:1":1}}');
    db2.close();
    await waitFor(() => w.weir.snapshot().upstreams.size >= 1, 10_000, 'spare upstream');
    const lines = logged.filter((l) => l.includes('stream_routes/0bad'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /warn stream_routes\/0bad: skipped: .*server_port/);
    assert.equal((await exchange(port, 'y')).data.toString(), 'echo:y');
  });

  it('Admin API and a CLI process writing at once for ~2 s: every acknowledged write is there, the file is intact', async () => {
    // The CLI's own code path (runCli), looped in one child process so it commits often enough to collide.
    const script = `
      import { runCli } from ${JSON.stringify(join(import.meta.dirname, '../../src/cli/run.ts'))};
      const io = { out() {}, err: (t) => process.stderr.write(t), readStdin: async () => '', env: {} };
      const end = Date.now() + 2000;
      for (let i = 0; i < 2000 && Date.now() < end; i++) {
        const code = await runCli(['upstreams', 'put', 'cli-' + i, '{"nodes":{"127.0.0.1:1":1}}', '-c', ${JSON.stringify(w.configPath)}], io, { signals: false });
        if (code === 0) process.stdout.write('cli-' + i + '\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    const acked: string[] = [];
    const end = Date.now() + 2500;
    for (let i = 0; i < 2000 && Date.now() < end; i++) {
      const r = await w.admin('PUT', `/apisix/admin/upstreams/api-${i}`, { nodes: { '127.0.0.1:2': 1 } });
      if (r.status === 201) acked.push(`api-${i}`);
    }
    assert.equal(await exited, 0, err);
    const cliAcked = out.trim().split('\n').filter(Boolean);
    assert.ok(acked.length > 10 && cliAcked.length > 10, `api ${acked.length}, cli ${cliAcked.length}`);
    assert.equal(err, '');

    const db = openSqlite(w.dbPath);
    try {
      const ids = new Set(db.prepare('SELECT id FROM upstreams').all().map((r) => String(r.id)));
      for (const id of [...acked, ...cliAcked]) assert.ok(ids.has(id), `${id} missing`);
      assert.equal(db.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
    } finally {
      db.close();
    }
    // The proxy's view caught up with both writers.
    await waitFor(() => w.weir.snapshot().upstreams.size >= acked.length + cliAcked.length, 10_000, 'snapshot caught up');
  });
});
