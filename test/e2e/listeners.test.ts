// stream_listeners end to end, weir in this process on loopback: a PUT accepts before it answers, a DELETE stops
// accepting, a taken port is a 400 with nothing stored, config listeners are read-only, routes on ports nobody
// serves get warnings, rows written by other processes (sqlite3 shell, a second store) bind within 1 s, a row
// that cannot bind is logged once and retried when it changes, open connections follow on_change, and a dry run
// binds and stores nothing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { configureErrorLog } from '../../src/log/logger';
import { openStore } from '../../src/store/store';
import { openSqlite } from '../../src/runtime/index';
import { freePort, startEchoServer, connect, readUntil, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { missingServers } from '../helpers/servers';
import { startUdpEcho, udpClient, type UdpEcho } from '../helpers/udp';

/** Whether something accepts TCP connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** An open proxied connection that has echoed once; `closed` resolves when weir (or anyone) closes it. */
async function openEchoing(port: number): Promise<{ sock: net.Socket; closed: Promise<number> }> {
  const sock = await connect(port);
  const startedAt = Date.now();
  // weir's FIN shows as 'end' (the client socket is half-open capable), a reset as 'close'
  const closed = new Promise<number>((resolve) => {
    sock.once('end', () => resolve(Date.now() - startedAt));
    sock.once('close', () => resolve(Date.now() - startedAt));
  });
  sock.on('error', () => {});
  sock.write('hello');
  await readUntil(sock, (d) => d.toString() === 'hello');
  return { sock, closed };
}

const errors: string[] = [];

describe('stream_listeners through the Admin API', () => {
  let w: TestWeir;
  let echo: TestServer;
  let configPort: number;

  before(async () => {
    configureErrorLog({ sink: (text) => void errors.push(text) });
    echo = await startEchoServer();
    configPort = await freePort();
    w = await startTestWeir([`"127.0.0.1:${configPort}"`]);
    // one route for every port: whatever listener a connection comes in on, it reaches the echo server
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/all', { upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } })).status, 201);
  });
  after(async () => {
    await w.stop();
    await echo.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('a PUT answers once the port accepts; a DELETE answers once it stopped', async () => {
    const port = await freePort();
    assert.equal(await accepts(port), false);
    const put = await w.admin('PUT', '/apisix/admin/stream_listeners/l1', { addr: `127.0.0.1:${port}`, desc: 'edge' });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(put.body.value, { id: 'l1', addr: `127.0.0.1:${port}`, desc: 'edge', create_time: put.body.value.create_time, update_time: put.body.value.update_time });
    assert.equal(await accepts(port), true);
    const { sock } = await openEchoing(port);
    sock.destroy();
    const del = await w.admin('DELETE', '/apisix/admin/stream_listeners/l1');
    assert.deepEqual(del, { status: 200, body: { deleted: '1', key: '/apisix/stream_listeners/l1' } });
    assert.equal(await accepts(port), false);
  });

  it('a PUT that moves a listener binds the new address and releases the old one', async () => {
    const [a, b] = [await freePort(), await freePort()];
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/mv', { addr: `127.0.0.1:${a}` })).status, 201);
    assert.equal((await w.admin('PATCH', '/apisix/admin/stream_listeners/mv', { addr: `127.0.0.1:${b}` })).status, 200);
    assert.deepEqual([await accepts(a), await accepts(b)], [false, true]);
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_listeners/mv')).status, 200);
  });

  it('a port that is taken is a 400 with the kernel reason, and nothing is stored', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const put = await w.admin('PUT', '/apisix/admin/stream_listeners/busy', { addr: `127.0.0.1:${taken}` });
      assert.deepEqual(put, { status: 400, body: { error_msg: `cannot listen on 127.0.0.1:${taken} (stream_listeners/busy): address already in use` } });
      assert.deepEqual(await w.admin('GET', '/apisix/admin/stream_listeners/busy'), { status: 404, body: { message: 'Key not found' } });
      // the same for an address already listed by the config
      const dup = await w.admin('POST', '/apisix/admin/stream_listeners', { addr: `127.0.0.1:${configPort}` });
      assert.equal(dup.status, 400);
      assert.match(dup.body.error_msg, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${configPort} \\(stream_listeners/\\d{20}\\): tcp 127\\.0\\.0\\.1:${configPort} is already served by apisix\\.stream_proxy\\.tcp\\[0\\]$`));
      assert.equal((await w.admin('GET', '/apisix/admin/stream_listeners')).body.total, 1, 'only the config listener');
    } finally {
      blocker.close();
    }
  });

  it('?dry_run=true checks the write and rolls it back: nothing is bound, nothing stored', async () => {
    const port = await freePort();
    const dry = await w.admin('PUT', '/apisix/admin/stream_listeners/dry?dry_run=true', { addr: `127.0.0.1:${port}` });
    assert.equal(dry.status, 201, JSON.stringify(dry.body));
    assert.equal(dry.body.dry_run, true);
    assert.equal(dry.body.value.addr, `127.0.0.1:${port}`);
    assert.equal(await accepts(port), false, 'a dry run binds nothing');
    assert.deepEqual(await w.admin('GET', '/apisix/admin/stream_listeners/dry'), { status: 404, body: { message: 'Key not found' } });
    const bad = await w.admin('PUT', '/apisix/admin/stream_listeners/dry?dry_run=true', { addr: '127.0.0.1:1-2' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error_msg, /one object is one address/);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/config:tcp:0?dry_run=true', { addr: 1 })).status, 400, 'config listeners stay read-only');
  });

  it('lists the config listeners read-only; writing one is a 400 that says to edit the config file', async () => {
    const entry = {
      key: '/apisix/stream_listeners/config:tcp:0',
      value: {
        id: 'config:tcp:0',
        addr: `127.0.0.1:${configPort}`,
        protocol: 'tcp',
        tls: false,
        tls_passthrough: false,
        source: 'apisix.stream_proxy.tcp[0]',
        desc: `from apisix.stream_proxy.tcp[0] in ${w.configPath}: read-only here, edit the config file and reload`,
      },
      createdIndex: 0,
      modifiedIndex: 0,
    };
    assert.deepEqual(await w.admin('GET', '/apisix/admin/stream_listeners'), { status: 200, body: { list: [entry], total: 1 } });
    assert.deepEqual(await w.admin('GET', '/apisix/admin/stream_listeners/config:tcp:0'), { status: 200, body: entry });
    const refused = {
      status: 400,
      body: { error_msg: 'stream listener config:tcp:0 comes from apisix.stream_proxy.tcp[0] in the config file: read-only here; edit the config file and reload weir to change it' },
    };
    assert.deepEqual(await w.admin('PUT', '/apisix/admin/stream_listeners/config:tcp:0', { addr: 1 }), refused);
    assert.deepEqual(await w.admin('PATCH', '/apisix/admin/stream_listeners/config:tcp:0', { desc: 'x' }), refused);
    assert.deepEqual(await w.admin('DELETE', '/apisix/admin/stream_listeners/config:tcp:0'), refused);
    assert.deepEqual(await w.admin('PUT', '/apisix/admin/stream_listeners', { id: 'config:tcp:0', addr: 1 }), refused);
  });

  it('a route naming a port no listener serves gets a warning, not an error', async () => {
    const port = await freePort();
    const body = { server_port: port, upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    const warned = await w.admin('PUT', '/apisix/admin/stream_routes/w1', body);
    assert.equal(warned.status, 201);
    // the file's catch-all route shadows w1: that warning comes first, then the port's
    const shadow = {
      route: 'w1',
      shadowed_by: 'all',
      message: `stream route w1 (server_port ${port}) can never match: route all (any connection) takes precedence and matches every connection it matches`,
    };
    const unserved = `server_port ${port}: no listener serves this port (apisix.stream_proxy or stream_listeners); the route matches nothing until one does`;
    assert.deepEqual(warned.body.warnings, [shadow, { route: 'w1', server_port: port, message: unserved }]);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/w1', { addr: `127.0.0.1:${port}` })).status, 201);
    const fine = await w.admin('PUT', '/apisix/admin/stream_routes/w1', body);
    assert.equal(fine.status, 200);
    assert.deepEqual(fine.body.warnings, [shadow]);
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/w1')).status, 200);
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_listeners/w1')).status, 200);
  });

  it('a UDP listener object relays datagrams, and stops receiving when deleted', async () => {
    const up: UdpEcho = await startUdpEcho('u:');
    const port = await freePort();
    const client = await udpClient();
    try {
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/a-udp', { server_port: port, upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } })).status, 201);
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_listeners/u1', { addr: `127.0.0.1:${port}`, protocol: 'udp' })).status, 201);
      client.send('ping', port);
      assert.deepEqual(await client.waitReplies(1), ['u:ping']);
      assert.equal((await w.admin('DELETE', '/apisix/admin/stream_listeners/u1')).status, 200);
      await waitFor(() => w.access.some((r) => r.protocol === 'udp' && r.end === 'listener_removed'), 2000, 'the session record');
      client.send('again', port);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(up.received, ['ping'], 'nothing arrives through a deleted listener');
    } finally {
      await client.close();
      await up.close();
      await w.admin('DELETE', '/apisix/admin/stream_routes/a-udp');
    }
  });

  describe('open connections of a deleted listener follow its on_change', () => {
    const cases: Array<[string, Record<string, unknown> | undefined, 'kept' | number]> = [
      ['keep (the default): they go on', undefined, 'kept'],
      ['drain: closed after drain_timeout', { action: 'drain', drain_timeout: 0.3 }, 300],
      ['close: closed at once', { action: 'close' }, 0],
    ];
    for (const [label, policy, expected] of cases) {
      it(label, async () => {
        const port = await freePort();
        const id = `p${String(expected)}`;
        const put = await w.admin('PUT', `/apisix/admin/stream_listeners/${id}`, { addr: `127.0.0.1:${port}`, ...(policy ? { on_change: policy } : {}) });
        assert.equal(put.status, 201);
        const conn = await openEchoing(port);
        const deletedAt = Date.now();
        assert.equal((await w.admin('DELETE', `/apisix/admin/stream_listeners/${id}`)).status, 200);
        if (expected === 'kept') {
          conn.sock.write('still');
          await readUntil(conn.sock, (d) => d.toString() === 'still');
          conn.sock.destroy();
          return;
        }
        await conn.closed;
        conn.sock.destroy();
        const took = Date.now() - deletedAt;
        assert.ok(took >= expected - 20 && took < expected + 1000, `closed after ${took} ms`);
        await waitFor(() => w.access.some((r) => r.end === 'listener_removed' && r.server.endsWith(`:${port}`)), 2000, 'its access record');
        const rec = w.access.find((r) => r.end === 'listener_removed' && r.server.endsWith(`:${port}`))!;
        const how = expected === 0 ? 'close' : 'drain 0.3 s';
        assert.equal(rec.error, `listener stream_listeners/${id} removed (on_change: ${how})`);
        assert.equal(rec.bytes_from_client, 5);
      });
    }
  });

  describe('rows written by other processes', () => {
    it('a listener inserted with the sqlite3 shell binds within 1 s', { skip: missingServers('sqlite3') ?? undefined }, async () => {
      const port = await freePort();
      const value = JSON.stringify({ id: 'sh1', addr: `127.0.0.1:${port}` });
      const writtenAt = Date.now();
      execFileSync('sqlite3', [w.dbPath, `INSERT INTO stream_listeners (id, value) VALUES ('sh1', '${value}')`]);
      for (let ok = false; !ok; ) {
        ok = await accepts(port);
        if (!ok && Date.now() - writtenAt > 1000) assert.fail('not accepting 1 s after the commit');
      }
      execFileSync('sqlite3', [w.dbPath, `DELETE FROM stream_listeners WHERE id = 'sh1'`]);
      const deletedAt = Date.now();
      while (await accepts(port)) if (Date.now() - deletedAt > 1000) assert.fail('still accepting 1 s after the delete');
    });

    it('a row that cannot bind is logged once with its id and reason, and tried again when it changes', async () => {
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
      const taken = (blocker.address() as net.AddressInfo).port;
      const other = openStore(w.dbPath, { db: openSqlite(w.dbPath) });
      try {
        errors.length = 0;
        other.put('stream_listeners', 'off1', { id: 'off1', addr: `127.0.0.1:${taken}` });
        const line = (): string[] => errors.filter((e) => e.includes('stream listener cannot be bound'));
        await waitFor(() => line().length === 1, 2000, 'the log line');
        assert.match(line()[0]!, new RegExp(`error stream listener cannot be bound; skipped until it changes id=off1 error="cannot listen on 127\\.0\\.0\\.1:${taken} \\(stream_listeners/off1\\): address already in use"`));
        // other changes do not retry it, nor log it again; the rest keeps serving
        assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/other', { server_port: configPort, upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } })).status, 201);
        other.put('upstreams', 'x', { id: 'x', nodes: { '127.0.0.1:1': 1 } });
        await new Promise((r) => setTimeout(r, 600));
        assert.equal(line().length, 1);
        assert.equal(await accepts(configPort), true);
        // the row changes: it is tried again, and binds
        const free = await freePort();
        other.put('stream_listeners', 'off1', { id: 'off1', addr: `127.0.0.1:${free}` });
        const changedAt = Date.now();
        while (!(await accepts(free))) if (Date.now() - changedAt > 1000) assert.fail('not bound 1 s after the row changed');
        other.delete('stream_listeners', 'off1');
        other.delete('upstreams', 'x');
        await w.admin('DELETE', '/apisix/admin/stream_routes/other');
      } finally {
        other.close();
        blocker.close();
      }
    });
  });
});
