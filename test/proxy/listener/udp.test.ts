// UDP proxy flow on loopback: real UDP echo upstreams, hand-built snapshots, captured access log.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startUdpProxy, type UdpProxy, type UdpProxyOptions } from '../../../src/proxy/listener/udp';
import { createNodeUdpDataPlane } from '../../../src/runtime/udp/node';
import { buildSnapshot, emptySnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import type { Snapshot } from '../../../src/snapshot/types';
import { HealthRegistry } from '../../../src/health/registry';
import type { StoredObject } from '../../../src/store/types';
import { deadUdpPort, startUdpEcho, udpClient, until, wait, type UdpClient, type UdpEcho } from '../../helpers/udp';

let revision = 0;
function snap(routes: Array<[string, Record<string, unknown>]>, prev: Snapshot | null = null): Snapshot {
  revision++;
  const rows = routes.map(([id, value]): StoredObject => {
    const full = { id, ...value };
    return { id, value: full, createdIndex: revision, modifiedIndex: revision, raw: JSON.stringify(full) };
  });
  return buildSnapshot({ revision, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, prev).snapshot;
}

/** An inline upstream on loopback nodes; `idle` (seconds) sets timeout.send/read. */
function upstream(ports: number[], idle?: number): Record<string, unknown> {
  const nodes = Object.fromEntries(ports.map((p) => [`127.0.0.1:${p}`, 1]));
  return { type: 'roundrobin', nodes, ...(idle === undefined ? {} : { timeout: { connect: 1, send: idle, read: idle } }) };
}

describe('startUdpProxy', () => {
  let a: UdpEcho;
  let b: UdpEcho;
  let proxy: UdpProxy | null = null;
  let current: Snapshot = emptySnapshot();
  const records: AccessRecord[] = [];
  const clients: UdpClient[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });

  /** The options every proxy in this file starts with, overridden by `extra`. */
  function options(extra: Partial<UdpProxyOptions> = {}): UdpProxyOptions {
    return {
      plane: createNodeUdpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, origin: 'test' }],
      snapshot: () => current,
      accessLog,
      maxSessions: 100,
      responses: null,
      tickMs: 20,
      ...extra,
    };
  }

  async function start(extra: Partial<UdpProxyOptions> = {}): Promise<number> {
    proxy = await startUdpProxy(options(extra));
    return proxy.listeners[0]!.port;
  }

  async function client(): Promise<UdpClient> {
    const c = await udpClient();
    clients.push(c);
    return c;
  }

  const flushed = async (count: number) => {
    await until(() => (accessLog.flush(), records.length >= count), 10_000, `${count} access records`);
  };

  before(async () => {
    configureErrorLog({ sink: () => {} });
    a = await startUdpEcho('a:');
    b = await startUdpEcho('b:');
  });
  afterEach(async () => {
    await proxy?.shutdown(0);
    proxy = null;
    await Promise.all(clients.splice(0).map((c) => c.close()));
    accessLog.flush(); // records of sessions the shutdown ended belong to the finished test
    records.length = 0;
  });
  after(async () => {
    await a.close();
    await b.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('relays both ways through one upstream socket, replies from the listener port, logs the session on idle', async () => {
    current = snap([['1', { upstream: upstream([a.port], 0.2) }]]);
    const port = await start();
    const c = await client();
    const sourcesBefore = a.sources.size;
    c.send('hello', port);
    assert.deepEqual(await c.waitReplies(1), ['a:hello']);
    c.send('again', port);
    assert.deepEqual(await c.waitReplies(2), ['a:hello', 'a:again']);
    assert.deepEqual(new Set(c.replies.map((r) => `${r.address}:${r.port}`)), new Set([`127.0.0.1:${port}`]));
    assert.equal(a.sources.size, sourcesBefore + 1); // one upstream socket for the session
    assert.equal(proxy!.activeSessions(), 1);
    await flushed(1);
    assert.equal(proxy!.activeSessions(), 0);
    const r = records[0]!;
    assert.equal(r.duration_ms >= 150, true);
    assert.match(r.id, new RegExp(`^${process.pid}-\\d+$`));
    assert.deepEqual({ ...r, time: undefined, duration_ms: 0, id: undefined }, {
      time: undefined,
      id: undefined,
      protocol: 'udp',
      route: '1',
      client: `127.0.0.1:${c.port}`,
      server: `127.0.0.1:${port}`,
      upstream: `127.0.0.1:${a.port}`,
      bytes_from_client: 10,
      bytes_to_client: 14,
      datagrams_from_client: 2,
      datagrams_to_client: 2,
      duration_ms: 0,
      end: 'idle_timeout',
    });
  });

  it('drops and counts datagrams that match no route, sending nothing back', async () => {
    current = snap([['1', { remote_addr: '10.9.9.9', upstream: upstream([a.port]) }]]);
    const port = await start();
    const c = await client();
    for (let i = 0; i < 3; i++) c.send(`x${i}`, port);
    await until(() => proxy!.stats().noRoute === 3);
    await wait(50);
    assert.deepEqual(c.replies, []);
    assert.deepEqual(proxy!.stats(), { sessions: 0, noRoute: 3, evicted: 0, refused: 0, proxyInvalid: 0, proxyUntrusted: 0, refusedPerSource: 0, refusedListener: 0, refusedRate: 0 });
    assert.equal(proxy!.activeSessions(), 0);
  });

  it('matches server_port, server_addr and remote_addr like TCP', async () => {
    current = snap([
      ['0', { server_addr: '10.0.0.0/8', upstream: upstream([b.port]) }],
      ['1', { server_port: 1, upstream: upstream([b.port]) }],
      ['2', { remote_addr: '127.0.0.0/8', upstream: upstream([a.port]) }],
    ]);
    const port = await start();
    const c = await client();
    c.send('m', port);
    assert.deepEqual(await c.waitReplies(1), ['a:m']);
    current = snap([['3', { server_addr: '127.0.0.1', server_port: port, upstream: upstream([b.port]) }]], current);
    const d = await client();
    d.send('n', port);
    assert.deepEqual(await d.waitReplies(1), ['b:n']);
  });

  it('ends a session after proxy_responses replies per client datagram', async () => {
    const twice = await startUdpEcho('t:', 2);
    try {
      current = snap([['1', { upstream: upstream([twice.port]) }]]);
      const port = await start({ responses: 2 });
      const c = await client();
      c.send('q', port);
      assert.deepEqual(await c.waitReplies(2), ['t:q', 't:q']);
      await flushed(1);
      assert.equal(records[0]!.end, 'responses');
      assert.equal(records[0]!.datagrams_to_client, 2);
      assert.equal(proxy!.activeSessions(), 0);
      c.send('r', port); // a new session for the same client
      assert.deepEqual(await c.waitReplies(4), ['t:q', 't:q', 't:r', 't:r']);
      assert.equal(proxy!.stats().sessions, 2);
    } finally {
      await twice.close();
    }
  });

  it('proxy_responses 0 forwards and ends the session at once', async () => {
    current = snap([['1', { upstream: upstream([a.port]) }]]);
    const before = a.received.length;
    const port = await start({ responses: 0 });
    const c = await client();
    c.send('fire and forget', port);
    await until(() => a.received.length === before + 1);
    assert.equal(a.received.at(-1), 'fire and forget');
    await flushed(1);
    assert.deepEqual([records[0]!.end, records[0]!.datagrams_from_client], ['responses', 1]);
  });

  it('closes a session refused by ICMP and sends the next sessions elsewhere', async () => {
    const dead = await deadUdpPort();
    current = snap([['1', { upstream: upstream([dead, a.port]) }]]);
    const port = await start();
    const c1 = await client();
    c1.send('one', port);
    await until(() => proxy!.stats().refused === 1);
    await flushed(1);
    assert.deepEqual([records[0]!.end, records[0]!.upstream, records[0]!.error], ['upstream_refused', `127.0.0.1:${dead}`, 'ECONNREFUSED']);
    // round robin alone would send the 3rd session back to the dead node; it is passed over for a while
    for (const text of ['two', 'three']) {
      const c = await client();
      c.send(text, port);
      assert.deepEqual(await c.waitReplies(1), [`a:${text}`]);
    }
    assert.equal(proxy!.stats().refused, 1);
  });

  it('counts a session with no reply within checks.passive.timeout as a timeout; new sessions skip the node once unhealthy', async () => {
    const sink = await startUdpEcho('', 0); // takes datagrams, never answers
    // active probes that never finish (their plane never calls back): only passive reports move the status
    const health = new HealthRegistry({ connect() {}, destroy() {}, exchange() {} });
    try {
      const checks = {
        active: { type: 'tcp', healthy: { interval: 60 }, unhealthy: { interval: 60 } },
        passive: { type: 'tcp', timeout: 0.1, unhealthy: { timeouts: 2, tcp_failures: 0 } },
      };
      current = snap([['1', { upstream: { ...upstream([sink.port, a.port]), checks } }]]);
      health.sync(current);
      const port = await start({ health });
      const node = () => health.get('/apisix/stream_routes/1')!.nodes.find((n) => n.port === sink.port)!;
      const answered: string[] = [];
      // round robin: sessions 1 and 3 go to the sink and stay unanswered; 2 and 4 are answered by a
      for (const text of ['1', '2', '3', '4']) {
        const c = await client();
        c.send(text, port);
        if (Number(text) % 2 === 0) answered.push(...(await c.waitReplies(1)));
      }
      assert.deepEqual(answered, ['a:2', 'a:4']);
      await until(() => node().status === 'unhealthy', 10_000, 'the sink marked unhealthy by two unanswered sessions');
      for (const text of ['5', '6', '7']) {
        const c = await client();
        c.send(text, port);
        assert.deepEqual(await c.waitReplies(1), [`a:${text}`]);
      }
      assert.deepEqual(sink.received, ['1', '3']);
    } finally {
      health.stop();
      await sink.close();
    }
  });

  it('keeps established sessions through a flood of new source ports at the session cap', async () => {
    current = snap([['1', { upstream: upstream([a.port]) }]]);
    const port = await start({ maxSessions: 4 });
    const est = await client();
    est.send('e1', port);
    await est.waitReplies(1);
    est.send('e2', port); // client spoke after a reply: assured
    await est.waitReplies(2);
    // 30 new source ports, each sending once (as spoofed sources do): only unproven sessions are evicted
    const floods: UdpClient[] = [];
    for (let i = 0; i < 30; i++) floods.push(await client());
    for (const f of floods) f.send('spoof', port);
    await until(() => proxy!.stats().sessions === 31);
    assert.equal(proxy!.activeSessions(), 4);
    assert.equal(proxy!.stats().evicted, 27);
    est.send('e3', port);
    assert.deepEqual(await est.waitReplies(3), ['a:e1', 'a:e2', 'a:e3']);
    await flushed(27);
    assert.ok(records.every((r) => r.end === 'evicted' && r.client !== `127.0.0.1:${est.port}`));
  });

  it('applies a route change to new sessions only', async () => {
    current = snap([['1', { upstream: upstream([a.port]) }]]);
    const port = await start();
    const old = await client();
    old.send('1', port);
    assert.deepEqual(await old.waitReplies(1), ['a:1']);
    current = snap([['1', { upstream: upstream([b.port]) }]], current);
    old.send('2', port);
    const fresh = await client();
    fresh.send('3', port);
    assert.deepEqual(await old.waitReplies(2), ['a:1', 'a:2']);
    assert.deepEqual(await fresh.waitReplies(1), ['b:3']);
  });

  it('logs one warning per refusing node, however many sessions it refuses', async () => {
    const lines: string[] = [];
    configureErrorLog({ sink: (text) => lines.push(text) });
    current = snap([['1', { upstream: upstream([await deadUdpPort()]) }]]);
    const port = await start();
    for (let i = 1; i <= 3; i++) {
      const c = await client();
      c.send('knock', port);
      await until(() => proxy!.stats().refused === i);
    }
    configureErrorLog({ sink: () => {} });
    assert.equal(lines.filter((l) => l.includes('udp upstream refused')).length, 1);
  });

  it('shutdown ends answered sessions at once and quiet unanswered ones after a moment, not at the grace end', async () => {
    const silent = await udpClient(); // an upstream that receives and never answers
    try {
      current = snap([
        ['1', { server_port: 1, upstream: upstream([silent.port]) }],
        ['2', { upstream: upstream([a.port]) }],
      ]);
      const port = await start();
      const answered = await client();
      answered.send('hi', port);
      await answered.waitReplies(1);
      current = snap([['1', { upstream: upstream([silent.port]) }]], current);
      const waiting = await client();
      waiting.send('anyone?', port);
      await until(() => proxy!.activeSessions() === 2);
      await proxy!.shutdown(60_000); // the test's own timeout would fail long before the grace ends
      await flushed(2);
      assert.deepEqual(
        records.map((r) => [r.client, r.end]),
        [
          [`127.0.0.1:${answered.port}`, 'shutdown'],
          [`127.0.0.1:${waiting.port}`, 'shutdown'],
        ],
      );
      proxy = null;
    } finally {
      await silent.close();
    }
  });

  it('shutdown with no grace aborts sessions still waiting for a reply, and releases the port', async () => {
    const silent = await client(); // an upstream that never answers
    current = snap([['1', { upstream: upstream([silent.port]) }]]);
    const port = await start();
    const c = await client();
    c.send('x', port);
    await until(() => silent.replies.length === 1); // (what the silent upstream received)
    await proxy!.shutdown(0);
    await flushed(1);
    assert.equal(records[0]!.end, 'aborted');
    proxy = null;
    const again = await startUdpProxy(options({ listeners: [{ host: '127.0.0.1', port, origin: 'again' }] }));
    assert.equal(again.listeners[0]!.port, port);
    await again.shutdown(0);
  });

  it('names the config origin when a port is taken', async () => {
    const port = await start();
    await assert.rejects(
      startUdpProxy(options({ listeners: [{ host: '127.0.0.1', port, origin: 'apisix.stream_proxy.udp[0]' }] })),
      /apisix\.stream_proxy\.udp\[0\]/,
    );
  });
});
