// Node names behind traffic-split follow their DNS records like a route's own upstream: a real dnsmasq
// (apisix.dns_resolver) answers for the names of a stored upstream the plugin names by upstream_id and of an
// inline one; when the records change, new connections through the plugin go to the new address and the
// route's on_node_removed closes the open ones on the address that went.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect, freePort, readUntil, startServer, type TestServer } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { startHostsDnsmasq, type Dnsmasq } from '../helpers/udp';
import { startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';

const skip = missingServers('dnsmasq', 'dig');

describe('traffic-split upstreams with node names, resolved by a real dnsmasq', { skip: skip ?? false }, () => {
  const dir = tempDir('weir-dns-split-');
  const hosts = join(dir.path, 'hosts');
  let dns: Dnsmasq;
  let w: TestWeir;
  let byIdListen: number;
  let inlineListen: number;
  let port: number; // servers that say which they are and keep the connection open, on 127.0.0.2 and 127.0.0.3
  const servers: TestServer[] = [];
  const clients: Socket[] = []; // held open by the test; destroyed in after()

  /** The records dnsmasq serves for both names, with a TTL of 1 s. */
  function record(address: string): void {
    writeFileSync(hosts, `${address} stored.weir.test\n${address} inline.weir.test\n`);
    chmodSync(hosts, 0o644);
  }

  before(async () => {
    record('127.0.0.2');
    dns = await startHostsDnsmasq(dir.path, hosts);
    port = await freePort('127.0.0.2');
    for (const host of ['127.0.0.2', '127.0.0.3']) servers.push(await startServer((s) => {
      s.write(host);
      s.on('end', () => s.end()); // a polled connection is over once the client's side is
    }, host, port));
    [byIdListen, inlineListen] = [await freePort(), await freePort()];
    w = await startTestWeir([`"127.0.0.1:${byIdListen}"`, `"127.0.0.1:${inlineListen}"`], { apisixYaml: `  dns_resolver:\n    - "127.0.0.1:${dns.port}"` });
    const up = await w.admin('PUT', '/apisix/admin/upstreams/stored', { nodes: { [`stored.weir.test:${port}`]: 1 } });
    assert.equal(up.status, 201);
    const byId = await w.admin('PUT', '/apisix/admin/stream_routes/by-id', {
      server_port: byIdListen,
      on_node_removed: { action: 'close' },
      plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'stored', weight: 1 }] }] } },
    });
    assert.equal(byId.status, 201, JSON.stringify(byId.body));
    const inline = await w.admin('PUT', '/apisix/admin/stream_routes/inline', {
      server_port: inlineListen,
      on_node_removed: { action: 'close' },
      plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: { nodes: { [`inline.weir.test:${port}`]: 1 } }, weight: 1 }] }] } },
    });
    assert.equal(inline.status, 201, JSON.stringify(inline.body));
  });
  after(async () => {
    for (const sock of clients) sock.destroy();
    await w?.stop();
    await dns?.close();
    for (const s of servers) await s.close();
    dir.remove();
  });

  /** Which server a new connection on `listen` reaches ('' when none answered). */
  async function reached(listen: number): Promise<string> {
    const sock = await connect(listen);
    sock.on('error', () => {});
    try {
      // a poll that on_node_removed cut while it was dialled gets weir's FIN; Bun's node:net client may not report
      // 'close' for it until much later (1 run in 3 waited out the 3 s here), so the FIN itself ends the wait
      sock.once('end', () => sock.destroy());
      return (await readUntil(sock, (d) => d.length >= 9, 3000)).toString();
    } catch {
      return '';
    } finally {
      sock.destroy();
    }
  }

  /** Poll new connections on both routes until each reaches `host`, for at most `ms`; returns how long it took. */
  async function untilBothReach(host: string, ms: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const got = [await reached(byIdListen), await reached(inlineListen)];
      if (got[0] === host && got[1] === host) return Date.now() - start;
      assert.ok(Date.now() - start < ms, `after ${ms} ms: by-id reached ${JSON.stringify(got[0])}, inline ${JSON.stringify(got[1])}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('new connections through traffic-split reach the address of the record', async () => {
    await untilBothReach('127.0.0.2', 5000);
    // the inline upstream is expanded in the route's chain, with the name kept beside the address
    const route = w.weir.snapshot().routes.find((r) => r.id === 'inline')!;
    assert.deepEqual(route.filters.upstreams!.map((u) => u.nodes.map((n) => `${n.address} (${n.name})`)), [[`127.0.0.2:${port} (inline.weir.test)`]]);
  });

  it('a changed record moves new connections; on_node_removed closes the open ones on the old address', async () => {
    const open = await Promise.all([connect(byIdListen), connect(inlineListen)]);
    clients.push(...open);
    const from = open.map((sock) => `127.0.0.1:${sock.localPort}`);
    const closed = open.map((sock) => {
      sock.on('error', () => {});
      return new Promise<void>((resolve) => {
        sock.once('end', () => resolve()); // weir ends its side (the socket allows half-open)
        sock.once('close', () => resolve());
      });
    });
    for (const sock of open) assert.equal((await readUntil(sock, (d) => d.length >= 9)).toString(), '127.0.0.2');
    record('127.0.0.3');
    dns.reload();
    const moved = await untilBothReach('127.0.0.3', 5000);
    // asked again when the 1 s TTL runs out, plus the query itself and scheduling
    assert.ok(moved < 2500, `moved after ${moved} ms`);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the open connections were not ended within 3 s')), 3000).unref());
    await Promise.race([Promise.all(closed), timeout]);
    // the records of the two connections held open (polled ones may end the same way while the name moves)
    const records = () => w.access.filter((r) => from.includes(r.client));
    await waitFor(() => records().length === 2, 2000, 'the records of both open connections');
    assert.deepEqual(records().map((r) => `${r.route} ${r.end}: ${r.error}`).sort(), [
      'by-id node_removed: route by-id lost its node (on_node_removed: close)',
      'inline node_removed: route inline lost its node (on_node_removed: close)',
    ]);
  });
});
