// Node names that follow their DNS records: weir asks a real dnsmasq (apisix.dns_resolver) for a node's name,
// every address becomes a node (with its own health, named in /v1/healthcheck), a changed record moves new
// connections within its TTL (and on_node_removed closes the open ones on the address that went), and a stopped
// dnsmasq leaves the last addresses serving.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configureErrorLog } from '../../src/log/logger';
import { connect, exchange, freePort, readUntil, startServer, type TestServer } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { startHostsDnsmasq, type Dnsmasq } from '../helpers/udp';
import { startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';

const skip = missingServers('dnsmasq', 'dig');
const logs: string[] = [];

describe('node names resolved by a real dnsmasq', { skip: skip ?? false }, () => {
  const dir = tempDir('weir-dns-names-');
  const hosts = join(dir.path, 'hosts');
  let dns: Dnsmasq;
  let w: TestWeir;
  let listen: number;
  let port: number; // both servers listen on this port, one on 127.0.0.2, one on 127.0.0.3
  let heldListen: number;
  let heldPort: number; // servers that say which they are and keep the connection open, on both addresses
  const servers: TestServer[] = [];

  /** The record dnsmasq serves for db.weir.test, with a TTL of 1 s. */
  function record(address: string): void {
    writeFileSync(hosts, `${address} db.weir.test\n`);
    chmodSync(hosts, 0o644);
  }

  before(async () => {
    configureErrorLog({ sink: (t) => logs.push(t) });
    record('127.0.0.2');
    dns = await startHostsDnsmasq(dir.path, hosts);
    port = await freePort('127.0.0.2');
    for (const host of ['127.0.0.2', '127.0.0.3']) servers.push(await startServer((s) => s.end(`${host}`), host, port));
    heldPort = await freePort('127.0.0.2');
    for (const host of ['127.0.0.2', '127.0.0.3']) servers.push(await startServer((s) => s.write(`${host}`), host, heldPort));
    [listen, heldListen] = [await freePort(), await freePort()];
    w = await startTestWeir([`"127.0.0.1:${listen}"`, `"127.0.0.1:${heldListen}"`], { apisixYaml: `  dns_resolver:\n    - "127.0.0.1:${dns.port}"` });
    const held = await w.admin('PUT', '/apisix/admin/stream_routes/held', {
      server_port: heldListen,
      on_node_removed: { action: 'close' },
      upstream: { nodes: { [`db.weir.test:${heldPort}`]: 1 } },
    });
    assert.equal(held.status, 201);
    const put = await w.admin('PUT', '/apisix/admin/stream_routes/db', {
      server_port: listen,
      upstream: { nodes: { [`db.weir.test:${port}`]: 1 }, checks: { active: { type: 'tcp' } } },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await w?.stop();
    await dns?.close();
    for (const s of servers) await s.close();
    configureErrorLog({ sink: (t) => process.stderr.write(t) });
    dir.remove();
  });

  /** Which server a new connection reaches ('' when none answered). */
  const reached = async (): Promise<string> => (await exchange(listen, 'x', { timeoutMs: 10_000 })).data.toString();
  const reachedMany = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await reached());
    return out;
  };

  it('serves the address of the record, named in /v1/healthcheck', async () => {
    await waitFor(() => w.weir.snapshot().upstreams.get('/apisix/stream_routes/db')!.upstream!.nodes[0]!.host === '127.0.0.2', 5000, 'the first answer');
    assert.deepEqual(await reachedMany(3), ['127.0.0.2', '127.0.0.2', '127.0.0.2']);
    const hc = await w.admin('GET', '/v1/healthcheck/stream_routes/db');
    assert.deepEqual(hc.body.nodes.map((n: any) => [n.ip, n.port, n.name]), [['127.0.0.2', port, 'db.weir.test']]);
  });

  it('moves new connections within the TTL when the record changes; on_node_removed closes the open ones', async () => {
    await waitFor(() => w.weir.snapshot().upstreams.get('/apisix/stream_routes/held')?.upstream?.nodes[0]?.host === '127.0.0.2', 5000, 'the held route resolved');
    const long = await connect(heldListen);
    long.on('error', () => {});
    const longClosed = new Promise<void>((resolve) => {
      long.once('end', resolve);
      long.once('close', resolve);
    });
    assert.equal((await readUntil(long, (d) => d.length >= 9)).toString(), '127.0.0.2');
    record('127.0.0.3');
    dns.reload();
    const changed = Date.now();
    while ((await reached()) !== '127.0.0.3') {
      assert.ok(Date.now() - changed < 5000, 'still on the old address after 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const moved = Date.now() - changed;
    // asked again when the 1 s TTL runs out, plus the query itself and scheduling
    assert.ok(moved < 2500, `moved after ${moved} ms`);
    assert.deepEqual(await reachedMany(5), Array(5).fill('127.0.0.3'));
    // the open connection was on the address the name no longer has: closed by the route's on_node_removed
    await longClosed;
    await waitFor(() => w.access.some((r) => r.route === 'held' && r.end === 'node_removed'), 2000, 'the node_removed record');
    assert.equal(w.access.find((r) => r.route === 'held')!.error, 'route held lost its node (on_node_removed: close)');
  });

  it('a stopped dnsmasq leaves the last addresses serving, logged once', async () => {
    await dns.close();
    // past the TTL the next question fails: at once on ICMP refused (Node), after the query timeouts elsewhere
    await waitFor(() => logs.some((l) => l.includes('dns resolution failed')), 10_000, 'a failed question');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await reachedMany(5), Array(5).fill('127.0.0.3'));
    const failed = logs.filter((l) => l.includes('dns resolution failed'));
    assert.equal(failed.length, 1, logs.join(''));
    assert.match(failed[0]!, /name=db\.weir\.test .*addresses=127\.0\.0\.3/);
  });
});
