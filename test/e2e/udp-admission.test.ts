// UDP flood defences with real sockets. Through a whole weir (config file, Admin API, metrics export): a source
// address at udp_max_sessions_per_source gets no new session while its open ones keep echoing, other addresses
// are not affected, and the refusals are counted in stats and in weir_stream_udp_refused_sessions_total.
// In process: after the new-session burst is spent, new clients are refused while established sessions keep
// every datagram, and the error log gets one line per second at most, not one per refusal.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestWeir, type TestWeir } from '../helpers/weir';
import { freePort } from '../helpers/net';
import { prometheusYaml, sample, scrape } from '../helpers/metrics';
import { deadUdpPort, startUdpEcho, udpClient, until, wait, type UdpClient, type UdpEcho } from '../helpers/udp';
import { startUdpProxy, type UdpProxy } from '../../src/proxy/listener/udp';
import { createUdpDataPlane } from '../../src/runtime/index';
import { buildSnapshot } from '../../src/snapshot/build';
import { AccessLog, configureErrorLog } from '../../src/log/logger';

const PER_SOURCE = 3;

describe('UDP sessions per source address (weir with a config file)', () => {
  let w: TestWeir;
  let echo: UdpEcho;
  let port: number;
  let metricsPort: number;
  const clients: UdpClient[] = [];

  async function client(host = '127.0.0.1'): Promise<UdpClient> {
    const c = await udpClient(host);
    clients.push(c);
    return c;
  }

  before(async () => {
    echo = await startUdpEcho('e:');
    port = await deadUdpPort();
    metricsPort = await freePort();
    w = await startTestWeir([], {
      udp: [`"127.0.0.1:${port}"`],
      extraYaml: [
        '  stream:',
        `    udp_max_sessions_per_source: ${PER_SOURCE}`,
        '    udp_session_rate: 0',
        '    udp_rcvbuf: 1m',
        prometheusYaml(metricsPort),
      ].join('\n'),
    });
    const route = { server_port: port, upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/echo', route)).status, 201);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await w?.stop();
    await echo?.close();
  });

  it('refuses a fourth session from one address, keeps its three, and serves other addresses', async () => {
    const own = [await client(), await client(), await client()];
    for (const c of own) c.send('hello', port);
    for (const c of own) assert.deepEqual(await c.waitReplies(1), ['e:hello']);
    assert.equal(w.weir.udpProxy.activeSessions(), PER_SOURCE);

    const over = [await client(), await client()];
    for (const c of over) c.send('more', port);
    await until(() => w.weir.udpProxy.stats().refusedPerSource === 2, 3000, 'two refusals');
    // the refused clients' datagrams went nowhere: nothing reached the upstream, nothing came back
    await wait(100);
    assert.deepEqual(over.map((c) => c.replies.length), [0, 0]);
    assert.equal(echo.received.filter((t) => t === 'more').length, 0);

    // the open sessions are never refused, whatever the count
    for (const c of own) c.send('again', port);
    for (const c of own) assert.deepEqual(await c.waitReplies(2), ['e:hello', 'e:again']);

    // another address has its own count
    const other = await client('127.0.0.2');
    other.send('other', port, '127.0.0.1');
    assert.deepEqual(await other.waitReplies(1), ['e:other']);

    const s = w.weir.udpProxy.stats();
    assert.deepEqual([s.sessions, s.refusedPerSource, s.refusedRate], [PER_SOURCE + 1, 2, 0]);
    const text = await scrape(metricsPort);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'per_source' }), 2);
    assert.equal(sample(text, 'weir_stream_udp_refused_sessions_total', { reason: 'rate' }), 0);
  });
});

describe('UDP new-session rate (in process, the runtime\'s data plane)', () => {
  let echo: UdpEcho;
  let proxy: UdpProxy;
  let port: number;
  const lines: string[] = [];
  const clients: UdpClient[] = [];

  before(async () => {
    configureErrorLog({ sink: (line) => lines.push(line) });
    echo = await startUdpEcho('e:');
    const value = { id: 'r', upstream: { type: 'roundrobin', nodes: { [`127.0.0.1:${echo.port}`]: 1 } } };
    const snap = buildSnapshot({ revision: 1, streamRoutes: [{ id: 'r', value, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(value) }], upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
    proxy = await startUdpProxy({
      plane: await createUdpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, origin: 'test' }],
      snapshot: () => snap,
      accessLog: new AccessLog({ disabled: true }),
      maxSessions: 100,
      // a burst of 3, then one token per 1000 s: within this test, exactly 3 sessions may start
      admission: { maxPerSource: 0, rate: 0.001, burst: 3 },
      responses: null,
      tickMs: 20,
    });
    port = proxy.listeners[0]!.port;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy?.shutdown(0);
    await echo?.close();
    configureErrorLog({ sink: () => {} });
  });

  it('refuses new clients once the burst is spent; established sessions keep every datagram', async () => {
    const t0 = Date.now();
    const est = [await udpClient(), await udpClient()];
    clients.push(...est);
    for (const c of est) c.send('0', port);
    for (const c of est) assert.deepEqual(await c.waitReplies(1), ['e:0']);

    const fresh: UdpClient[] = [];
    for (let i = 0; i < 6; i++) fresh.push(await udpClient());
    clients.push(...fresh);
    for (const c of fresh) c.send('new', port);
    await until(() => proxy.stats().refusedRate === 5, 3000, 'five refusals');
    await wait(100);
    // one token was left after the two established sessions: exactly one new client got through
    assert.equal(fresh.filter((c) => c.replies.length === 1).length, 1);
    assert.equal(proxy.stats().sessions, 3);

    // 20 more datagrams on each established session, in steps the kernel buffers hold: all answered
    for (let i = 1; i <= 20; i++) {
      for (const c of est) c.send(String(i), port);
      if (i % 5 === 0) await until(() => est.every((c) => c.replies.length === i + 1), 3000, `${i} replies each`);
    }
    for (const c of est) assert.deepEqual(c.replies.map((r) => r.text), Array.from({ length: 21 }, (_, i) => `e:${i}`));
    assert.equal(proxy.stats().refusedRate, 5);

    // five refusals, one line per second at most (the held-back count follows in the next line)
    const refusedLines = lines.filter((l) => l.includes('udp session refused: new-session rate reached')).length;
    const seconds = Math.ceil((Date.now() - t0) / 1000);
    assert.ok(refusedLines >= 1 && refusedLines <= seconds, `${refusedLines} lines in ${seconds} s`);
  });
});
