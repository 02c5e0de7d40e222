// What is open right now, through a running weir: /v1/connections lists a live TCP connection with its bytes so
// far, DELETE cuts it and its access line says admin_closed under the same id; filters, paging and bulk DELETE;
// the same for /v1/udp_sessions.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, readUntil, startEchoServer, type TestServer } from '../helpers/net';
import { deadUdpPort, startUdpEcho, udpClient, type UdpClient, type UdpEcho } from '../helpers/udp';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';

async function open(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1', localAddress });
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  s.on('error', () => {});
  return s;
}

describe('/v1/connections and /v1/udp_sessions', () => {
  let w: TestWeir;
  let echo: TestServer;
  let uecho: UdpEcho;
  let P: number;
  let Q: number;
  let U: number;
  const sockets: net.Socket[] = [];
  const udp: UdpClient[] = [];

  before(async () => {
    echo = await startEchoServer();
    uecho = await startUdpEcho('u:');
    P = await freePort();
    Q = await freePort();
    U = await deadUdpPort();
    w = await startTestWeir([`"127.0.0.1:${P}"`, `"127.0.0.1:${Q}"`], { udp: [`"127.0.0.1:${U}"`] });
    const node = { [`127.0.0.1:${echo.port}`]: 1 };
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/e', { nodes: node })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/p', { server_port: P, upstream_id: 'e' })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/q', { server_port: Q, upstream: { nodes: node } })).status, 201);
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/u', { server_port: U, upstream: { scheme: 'udp', nodes: { [`127.0.0.1:${uecho.port}`]: 1 } } })).status, 201);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const c of udp) await c.close();
    await w?.stop();
    await echo?.close();
    await uecho?.close();
  });

  it('lists a live connection with its bytes so far; DELETE cuts it and the access line says so', async () => {
    const s = await open(P);
    sockets.push(s);
    s.write('hello');
    await readUntil(s, (d) => d.toString() === 'hello');
    const list = await w.admin('GET', '/v1/connections');
    assert.equal(list.status, 200);
    assert.equal(list.body.total, 1);
    const row = list.body.list[0];
    assert.deepEqual(
      { ...row, id: 0, age_ms: 0, idle_ms: 0 },
      {
        id: 0, protocol: 'tcp', state: 'proxying', route: 'p', upstream: '/apisix/upstreams/e', node: `127.0.0.1:${echo.port}`,
        client: `127.0.0.1:${s.localPort}`, server: `127.0.0.1:${P}`, tls: null, sni: null,
        bytes_from_client: 5, bytes_to_client: 5, age_ms: 0, idle_ms: 0,
      },
    );
    assert.ok(row.age_ms >= 0 && row.idle_ms >= 0 && row.idle_ms <= row.age_ms);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    const del = await w.admin('DELETE', `/v1/connections/${row.id}`);
    assert.deepEqual([del.status, del.body], [200, { deleted: String(row.id), end: 'admin_closed' }]);
    await closed;
    await waitFor(() => w.access.some((r) => r.id === row.id), 10_000, 'the access line');
    const rec = w.access.find((r) => r.id === row.id)!;
    assert.deepEqual([rec.route, rec.end, rec.bytes_from_client, rec.bytes_to_client], ['p', 'admin_closed', 5, 5]);
    assert.equal((await w.admin('GET', '/v1/connections')).body.total, 0);
    assert.deepEqual(await w.admin('DELETE', `/v1/connections/${row.id}`), { status: 404, body: { error_msg: `connection ${row.id} is not open` } });
  });

  it('filters by route, upstream, node, client and listener, pages, and ends every match at once', async () => {
    const mine = [await open(P, '127.0.0.5'), await open(P, '127.0.0.6'), await open(Q, '127.0.0.5')];
    sockets.push(...mine);
    await waitFor(() => w.weir.proxy.activeConnections() === 3, 10_000, 'three connections');
    const ids = async (q: string) => ((await w.admin('GET', `/v1/connections${q}`)).body.list as Array<{ route: string; client: string }>).map((r) => `${r.route}@${r.client.split(':')[0]}`);
    assert.deepEqual(await ids(''), ['p@127.0.0.5', 'p@127.0.0.6', 'q@127.0.0.5']);
    assert.deepEqual(await ids('?route=p'), ['p@127.0.0.5', 'p@127.0.0.6']);
    assert.deepEqual(await ids('?upstream=e'), ['p@127.0.0.5', 'p@127.0.0.6']);
    assert.deepEqual(await ids('?upstream=/apisix/stream_routes/q'), ['q@127.0.0.5']);
    assert.deepEqual(await ids(`?node=127.0.0.1:${echo.port}`), ['p@127.0.0.5', 'p@127.0.0.6', 'q@127.0.0.5']);
    assert.deepEqual(await ids('?client=127.0.0.5'), ['p@127.0.0.5', 'q@127.0.0.5']);
    assert.deepEqual(await ids('?client=127.0.0.6/31'), ['p@127.0.0.6']);
    assert.deepEqual(await ids(`?listener=${Q}`), ['q@127.0.0.5']);
    assert.deepEqual(await ids(`?listener=127.0.0.1:${P}&client=127.0.0.6`), ['p@127.0.0.6']);
    const paged = await w.admin('GET', '/v1/connections?page=2&page_size=2');
    assert.deepEqual([paged.body.total, paged.body.list.length], [3, 1]);
    assert.deepEqual((await w.admin('GET', '/v1/connections?client=nope')).body, { error_msg: 'invalid client: nope (an IP address or CIDR)' });
    assert.equal((await w.admin('DELETE', '/v1/connections')).status, 400, 'a bulk delete needs a filter');
    const bulk = await w.admin('DELETE', '/v1/connections?client=127.0.0.5');
    assert.deepEqual([bulk.status, bulk.body.total, bulk.body.end], [200, 2, 'admin_closed']);
    await waitFor(() => w.weir.proxy.activeConnections() === 1, 10_000, 'two cut');
    assert.deepEqual(await ids(''), ['p@127.0.0.6']);
    const cut = w.access.filter((r) => bulk.body.deleted.includes(String(r.id)));
    assert.deepEqual(cut.map((r) => r.end), ['admin_closed', 'admin_closed']);
  });

  it('lists and ends UDP sessions the same way', async () => {
    const c = await udpClient();
    udp.push(c);
    c.send('ping', U);
    assert.deepEqual(await c.waitReplies(1), ['u:ping']);
    const list = await w.admin('GET', '/v1/udp_sessions?route=u');
    assert.equal(list.body.total, 1);
    const row = list.body.list[0];
    assert.deepEqual(
      { ...row, id: 0, age_ms: 0, idle_ms: 0 },
      {
        id: 0, protocol: 'udp', route: 'u', upstream: '/apisix/stream_routes/u', node: `127.0.0.1:${uecho.port}`,
        client: `127.0.0.1:${c.port}`, server: `127.0.0.1:${U}`, bytes_from_client: 4, bytes_to_client: 6,
        datagrams_from_client: 1, datagrams_to_client: 1, age_ms: 0, idle_ms: 0,
      },
    );
    assert.equal((await w.admin('GET', '/v1/udp_sessions?route=p')).body.total, 0);
    const del = await w.admin('DELETE', `/v1/udp_sessions/${row.id}`);
    assert.deepEqual([del.status, del.body.end], [200, 'admin_closed']);
    await waitFor(() => w.access.some((r) => r.id === row.id), 10_000, 'the session line');
    assert.equal(w.access.find((r) => r.id === row.id)!.end, 'admin_closed');
    assert.equal(w.weir.udpProxy.activeSessions(), 0);
  });
});
