// Full stack through the Admin API: bulk integrity, live route changes, upstream_id routes, restart-free updates.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { freePort, startEchoServer, startServer, exchange, connect, readUntil, sha256, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { missingServers, startStalledListener } from '../helpers/servers';

describe('forwarding through weir', () => {
  let w: TestWeir;
  let port: number;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    a = await startEchoServer('A:');
    b = await startEchoServer('B:');
    port = await freePort();
    w = await startTestWeir([`"127.0.0.1:${port}"`]);
  });
  after(async () => {
    await w?.stop();
    await a?.close();
    await b?.close();
  });

  it('moves 64 MiB each way at once, byte-identical', async () => {
    const size = 64 * 1024 * 1024;
    const toUpstream = randomBytes(size);
    const toClient = randomBytes(size);
    let upstreamDone: (hex: string) => void;
    const upstreamGot = new Promise<string>((resolve) => (upstreamDone = resolve));
    const sink = await startServer((s) => {
      const hash = createHash('sha256');
      s.on('data', (d) => hash.update(d));
      s.on('end', () => upstreamDone(hash.digest('hex')));
      // write in 1 MiB pieces, honouring backpressure
      let off = 0;
      const pump = (): void => {
        while (off < size) {
          const ok = s.write(toClient.subarray(off, off + 1024 * 1024));
          off += 1024 * 1024;
          if (!ok) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    try {
      const put = await w.admin('PUT', '/apisix/admin/stream_routes/bulk', {
        upstream: { nodes: { [`127.0.0.1:${sink.port}`]: 1 }, type: 'roundrobin' },
      });
      assert.equal(put.status, 201);
      const sock = await connect(port);
      const clientHash = createHash('sha256');
      let received = 0;
      const ended = new Promise<void>((resolve) => sock.on('end', () => resolve()));
      // the upstream may finish sending before it has read everything: wait for our own write too
      const written = new Promise<void>((resolve) => sock.on('finish', () => resolve()));
      sock.on('data', (d) => {
        received += d.length;
        clientHash.update(d);
      });
      sock.end(toUpstream);
      await Promise.all([ended, written]);
      assert.equal(received, size);
      assert.equal(clientHash.digest('hex'), sha256(toClient));
      assert.equal(await upstreamGot, sha256(toUpstream));
      sock.destroy();
      await waitFor(() => w.access.some((r) => r.route === 'bulk'), 10_000, 'the access record');
      const rec = w.access.find((r) => r.route === 'bulk');
      assert.ok(rec, 'access record written');
      assert.equal(rec.bytes_from_client, size);
      assert.equal(rec.bytes_to_client, size);
    } finally {
      await sink.close();
      await w.admin('DELETE', '/apisix/admin/stream_routes/bulk');
    }
  });

  it('applies a route change to the next connection while an open one keeps its upstream', async () => {
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/u1', { nodes: { [`127.0.0.1:${a.port}`]: 1 } })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/1', { upstream_id: 'u1' })).status, 201);
    const open = await connect(port);
    open.write('x');
    assert.equal((await readUntil(open, (d) => d.length >= 3)).toString(), 'A:x');

    // repoint the upstream object: routes using it follow at once
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/u1', { nodes: { [`127.0.0.1:${b.port}`]: 1 } })).status, 200);
    assert.equal((await exchange(port, 'y')).data.toString(), 'B:y');

    open.write('z');
    assert.equal((await readUntil(open, (d) => d.length >= 1)).toString(), 'z', 'the open connection still talks to A');
    open.destroy();
  });

  it('refuses to delete an upstream in use, then stops matching after the route goes', async () => {
    const refused = await w.admin('DELETE', '/apisix/admin/upstreams/u1');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error_msg, 'can not delete this upstream, stream_route [1] is still using it now');
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/1')).status, 200);
    assert.equal((await exchange(port, 'gone')).data.length, 0);
    assert.equal((await w.admin('DELETE', '/apisix/admin/upstreams/u1')).status, 200);
  });

  it('PUT, DELETE, PUT in quick succession leaves a working route', async () => {
    const body = { upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/q', body)).status, 201);
    assert.equal((await w.admin('DELETE', '/apisix/admin/stream_routes/q')).status, 200);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/q', body)).status, 201);
    assert.equal((await exchange(port, 'q')).data.toString(), 'A:q');
    await w.admin('DELETE', '/apisix/admin/stream_routes/q');
  });

  it('balances 3:1 weights as a a b a over a refused node, which the client never notices', async () => {
    const dead = await freePort(); // nothing listens here: connection refused
    const body = {
      upstream: {
        nodes: [
          { host: '127.0.0.1', port: a.port, weight: 3 },
          { host: '127.0.0.1', port: b.port, weight: 1 },
          { host: '127.0.0.1', port: dead, weight: 0 },
        ],
      },
    };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/w', body)).status, 201);
    const seen: string[] = [];
    // (a payload, not a bare FIN: Deno's node:net test server drops its greeting when the peer's FIN comes first)
    for (let i = 0; i < 8; i++) seen.push((await exchange(port, '.')).data.toString());
    // smooth weighted round robin, weights A:3 B:1 -> A A B A | A A B A
    assert.deepEqual(seen, ['A:.', 'A:.', 'B:.', 'A:.', 'A:.', 'A:.', 'B:.', 'A:.']);

    const retry = { upstream: { nodes: [{ host: '127.0.0.1', port: dead, weight: 100 }, { host: '127.0.0.1', port: a.port, weight: 1 }] } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/w', retry)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await exchange(port, 'r')).data.toString(), 'A:r');
    await w.admin('DELETE', '/apisix/admin/stream_routes/w');
  });

  it('gives up on a node that does not answer after timeout.connect and retries the next', async (t) => {
    const skip = missingServers('python3');
    if (skip) return t.skip(skip);
    const stalled = await startStalledListener();
    try {
      const body = {
        upstream: {
          nodes: [
            { host: '127.0.0.1', port: stalled.port, weight: 100 },
            { host: '127.0.0.1', port: a.port, weight: 1 },
          ],
          timeout: { connect: 0.3, send: 10, read: 10 },
        },
      };
      assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/slow', body)).status, 201);
      const { data } = await exchange(port, 't', { timeoutMs: 5000 });
      assert.equal(data.toString(), 'A:t');
      await waitFor(() => w.access.some((r) => r.route === 'slow'), 10_000, 'the access record');
      assert.equal(w.access.find((r) => r.route === 'slow')!.upstream, `127.0.0.1:${a.port}`);
    } finally {
      stalled.close();
      await w.admin('DELETE', '/apisix/admin/stream_routes/slow');
    }
  });

  it('closes the client when every node refuses, and logs why', async () => {
    const dead = await freePort();
    await w.admin('PUT', '/apisix/admin/stream_routes/dead', { upstream: { nodes: { [`127.0.0.1:${dead}`]: 1 } } });
    const { data, closedBy } = await exchange(port, 'x');
    assert.equal(data.length, 0);
    assert.notEqual(closedBy, 'timeout');
    await w.admin('DELETE', '/apisix/admin/stream_routes/dead');
  });

  it('matches IPv4 rules for a client on an IPv6 dual-stack listener (::ffff:127.0.0.1)', async (t) => {
    const v6port = await freePort();
    let w6: TestWeir;
    try {
      w6 = await startTestWeir([`"[::]:${v6port}"`]);
    } catch (err) {
      t.skip(`no IPv6 on this host: ${(err as Error).message}`);
      return;
    }
    try {
      await w6.admin('PUT', '/apisix/admin/stream_routes/1', { remote_addr: '127.0.0.0/8', upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } });
      const sock = net.connect({ port: v6port, host: '127.0.0.1' });
      sock.end('m');
      const got = await readUntil(sock, (d) => d.length >= 3);
      sock.destroy();
      assert.equal(got.toString(), 'A:m');
      // the access record is written once both sockets have closed
      await waitFor(() => w6.access.length > 0, 10_000, 'the access record');
      assert.match(w6.access[0]!.client, /^127\.0\.0\.1:\d+$/);
    } finally {
      await w6.stop();
    }
  });
});
