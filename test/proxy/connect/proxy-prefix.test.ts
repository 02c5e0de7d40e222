// The connect phase's PROXY header: which plan an upstream sends (its own `proxy_protocol`, else the listener's
// v1), compiled once; the facts it carries; and, on live sockets, what a backend reads: v1 or v2 with TLVs, the
// incoming header's addresses passed on, the header again on every retry, and in the clear before upstream TLS.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  compileUpstreamProxyPlans,
  LISTENER_TCP_PLAN,
  LISTENER_UDP_PLAN,
  proxyHeaderFacts,
  tcpPlanOf,
  type UpstreamProxyPlans,
} from '../../../src/proxy/connect/proxy-prefix';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import type { ProxyHeader } from '../../../src/proxy/prelude/proxy-protocol-types';
import { EMPTY_TLVS } from '../../../src/proxy/prelude/proxy-protocol-types';
import { createTcpDataPlane } from '../../../src/runtime/index';
import { buildSnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import type { CompiledUpstream, Snapshot } from '../../../src/snapshot/types';
import type { StoredObject } from '../../../src/store/types';
import { cat, startProxyReader, tlv, tlvText, u16, v2, type ProxyReader } from '../../helpers/proxy-protocol';
import { pem } from '../../tls/fixtures';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error(`${what} not reached in time`);
    await wait(5);
  }
}

describe('compileUpstreamProxyPlans', () => {
  it('absent: null; v2 with TLVs: a TCP and a UDP plan of version 2', () => {
    assert.equal(compileUpstreamProxyPlans(undefined), null);
    const plans = compileUpstreamProxyPlans({ version: 2, tlvs: ['authority', 'unique_id', { type: 0xe0, value: '$route_id' }] }) as UpstreamProxyPlans;
    assert.deepEqual([plans.version, plans.tcp.version, plans.tcp.transport, plans.udp.version, plans.udp.transport], [2, 2, 'tcp', 2, 'udp']);
    assert.deepEqual(plans.tcp.steps.map((s) => s.kind), ['authority', 'unique_id', 'route_id']);
  });

  it('v1: v1 on TCP, a bare v2 header on UDP (v1 has no datagram form)', () => {
    const plans = compileUpstreamProxyPlans({ version: 1 }) as UpstreamProxyPlans;
    assert.deepEqual([plans.tcp.version, plans.udp.version, plans.udp.steps.length], [1, 2, 0]);
  });

  it('names the problem', () => {
    assert.equal(compileUpstreamProxyPlans({ version: 3 }), 'proxy_protocol.version: 3 is neither 1 nor 2');
    assert.equal(compileUpstreamProxyPlans({ version: 1, tlvs: ['authority'] }), 'proxy_protocol.tlvs: TLVs need version 2');
    assert.equal(compileUpstreamProxyPlans({ version: 2, tlvs: 'authority' }), 'proxy_protocol.tlvs: expected a list');
    assert.equal(compileUpstreamProxyPlans({ version: 2, tlvs: [{ type: 0x90, value: 'x' }] }), 'proxy_protocol.tlvs[0]: type 0x90 is not custom (0xE0-0xEF)');
    assert.equal(compileUpstreamProxyPlans([1]), 'proxy_protocol: expected an object like {"version": 2, "tlvs": ["authority"]}');
  });
});

describe('tcpPlanOf', () => {
  const up = (proxyProtocol: UpstreamProxyPlans | null | undefined) => ({ proxyProtocol }) as CompiledUpstream;
  it('the upstream\'s own plan wins; else the listener\'s v1; else none', () => {
    const own = compileUpstreamProxyPlans({ version: 2 }) as UpstreamProxyPlans;
    assert.equal(tcpPlanOf(up(own), true), own.tcp);
    assert.equal(tcpPlanOf(up(null), true), LISTENER_TCP_PLAN);
    assert.equal(tcpPlanOf(up(undefined), false), null);
    assert.deepEqual([LISTENER_TCP_PLAN.version, LISTENER_UDP_PLAN.version], [1, 2]);
  });
});

describe('proxyHeaderFacts', () => {
  const plan = (compileUpstreamProxyPlans({ version: 2, tlvs: ['authority', 'unique_id', 'ssl', 'netns'] }) as UpstreamProxyPlans).tcp;
  const source = (incoming: ProxyHeader | null, sni: string | null = null) => ({
    remoteAddr: '198.51.100.7', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni, incoming, routeId: 'r1',
    connectionId: () => '77-1',
  });
  const header = (over: Partial<ProxyHeader>): ProxyHeader => ({
    version: 2, command: 'proxy', family: 'ipv4', transport: 'stream', source: { addr: '198.51.100.7', port: 40000 },
    destination: { addr: '203.0.113.5', port: 443 }, tlvs: EMPTY_TLVS, headerLength: 28, ...over,
  });

  it('without an incoming header: the client and the address it connected to; the SNI as authority', () => {
    const f = proxyHeaderFacts(plan, source(null, 'db.test'), null);
    assert.deepEqual([f.source, f.destination, f.authority, f.uniqueId, f.ssl, f.netns, f.routeId], [
      { addr: '198.51.100.7', port: 40000 }, { addr: '127.0.0.1', port: 9100 }, 'db.test', '77-1', null, null, 'r1',
    ]);
  });

  it('with one: its destination, authority, SSL and netns pass on (weir\'s own SNI first)', () => {
    const tlvs = {
      ...EMPTY_TLVS, authority: 'from-lb.test', netns: 'blue',
      ssl: { client: 5, tls: true, certInConnection: false, certInSession: true, verify: 0, certVerified: true, version: 'TLSv1.3', cn: 'c', cipher: 'X', sigAlg: null, keyAlg: null },
    };
    const f = proxyHeaderFacts(plan, source(header({ tlvs })), null);
    assert.deepEqual([f.destination, f.authority, f.netns], [{ addr: '203.0.113.5', port: 443 }, 'from-lb.test', 'blue']);
    assert.deepEqual(f.ssl, { version: 'TLSv1.3', cipher: 'X', cn: 'c', sigAlg: null, keyAlg: null, certPresented: true, certVerified: true, sessionReused: true });
    assert.equal(proxyHeaderFacts(plan, source(header({ tlvs }), 'weir.test'), null).authority, 'weir.test');
  });

  it('a UNIX destination is not passed on; the id is only asked for when unique_id is sent', () => {
    const f = proxyHeaderFacts(LISTENER_TCP_PLAN, { ...source(header({ destination: { addr: '/run/lb.sock', port: 0 } })), connectionId: () => assert.fail('asked') }, null);
    assert.deepEqual([f.destination, f.uniqueId], [{ addr: '127.0.0.1', port: 9100 }, null]);
  });
});

let revision = 0;
function snap(routes: Array<[string, Record<string, unknown>]>): Snapshot {
  revision++;
  const rows = routes.map(([id, value]): StoredObject => {
    const full = { id, ...value };
    return { id, value: full, createdIndex: revision, modifiedIndex: revision, raw: JSON.stringify(full) };
  });
  return buildSnapshot({ revision, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
}

async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Connect, optionally send a header, then `text`; resolves with the reply and the client's own port. */
function ask(port: number, text: string, header: Uint8Array | null = null): Promise<{ reply: string; localPort: number }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let reply = '';
    let localPort = 0;
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('data', (d: Buffer) => (reply += d));
    s.on('error', () => {});
    s.on('connect', () => {
      localPort = s.localPort!;
      s.end(header === null ? text : cat(header, text));
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, localPort });
    });
  });
}

describe('PROXY headers to upstreams, on live sockets', () => {
  let up: ProxyReader;
  let tlsUp: ProxyReader;
  let proxy: TcpProxy;
  let ports: { plain: number; toUpstream: number; receiving: number };
  let current: Snapshot;
  const records: AccessRecord[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });

  before(async () => {
    configureErrorLog({ sink: () => {} });
    up = await startProxyReader('up');
    tlsUp = await startProxyReader('tls', pem.a);
    const dead = await deadPort();
    proxy = await startTcpProxy({
      plane: await createTcpDataPlane(),
      listeners: [
        { host: '127.0.0.1', port: 0, tls: false, origin: 'tcp[0]' },
        { host: '127.0.0.1', port: 0, tls: false, proxyProtocolToUpstream: true, origin: 'tcp[1]' },
        { host: '127.0.0.1', port: 0, tls: false, proxyProtocol: true, origin: 'tcp[2]' },
      ],
      snapshot: () => current,
      accessLog,
    });
    const [plain, toUpstream, receiving] = proxy.listeners.map((l) => l.port) as [number, number, number];
    ports = { plain, toUpstream, receiving };
    const v2Tlvs = { version: 2, tlvs: ['authority', 'unique_id', { type: 0xe0, value: '$route_id' }, { type: 0xe1, value: '$server_port' }, { type: 0xe2, value: 'static text' }] };
    current = snap([
      // the listener decides (v1), the upstream has no proxy_protocol of its own
      ['listener-v1', { server_port: toUpstream, upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } }],
      // the upstream's v2 with TLVs; the first node refuses, so the header must be sent again to the second
      ['up-v2', { server_port: receiving, upstream: { nodes: [{ host: '127.0.0.1', port: dead, weight: 1, priority: 1 }, { host: '127.0.0.1', port: up.port, weight: 1, priority: 0 }], retries: 1, proxy_protocol: v2Tlvs } }],
      // TLS to the node: the header goes first, in the clear
      ['tls-up', { server_port: plain, upstream: { scheme: 'tls', tls: { verify: false }, nodes: { [`127.0.0.1:${tlsUp.port}`]: 1 }, proxy_protocol: { version: 2, tlvs: ['unique_id'] } } }],
    ]);
  });
  after(async () => {
    await proxy.shutdown(0);
    await up.close();
    await tlsUp.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('proxy_protocol_to_upstream sends v1 with the client and the listener address', async () => {
    const n = up.conns.length;
    const { reply, localPort } = await ask(ports.toUpstream, 'ping');
    assert.equal(reply, 'up:ping');
    const c = up.conns[n]!;
    assert.deepEqual(c.header, {
      version: 1, command: 'TCP4', famProto: 0, src: '127.0.0.1', dst: '127.0.0.1', srcPort: localPort, dstPort: ports.toUpstream, tlvs: [],
      length: `PROXY TCP4 127.0.0.1 127.0.0.1 ${localPort} ${ports.toUpstream}\r\n`.length,
    });
    assert.equal(c.rest.toString(), 'ping');
  });

  it('an upstream\'s v2 with TLVs passes the incoming header on, and is sent again on the retry', async () => {
    const incoming = v2(0x21, 0x11, cat([192, 0, 2, 1, 192, 0, 2, 11, ...u16(56324), ...u16(443)], tlv(0x02, 'db.example')));
    const n = up.conns.length;
    const before = records.length;
    const { reply } = await ask(ports.receiving, 'hello', incoming);
    assert.equal(reply, 'up:hello');
    await until(() => records.length > before, 5000, 'the record');
    const rec = records[records.length - 1]!;
    assert.deepEqual([rec.route, rec.client, rec.end], ['up-v2', '192.0.2.1:56324', 'closed']);
    assert.equal(up.conns.length, n + 1, 'one connection reached the live node');
    const h = up.conns[n]!.header!;
    assert.deepEqual([h.version, h.command, h.famProto, h.src, h.srcPort, h.dst, h.dstPort], [2, 'PROXY', 0x11, '192.0.2.1', 56324, '192.0.2.11', 443]);
    assert.deepEqual(h.tlvs.map(([t]) => t), [0x02, 0x05, 0xe0, 0xe1, 0xe2]);
    assert.deepEqual([tlvText(h, 0x02), tlvText(h, 0x05), tlvText(h, 0xe0), tlvText(h, 0xe1), tlvText(h, 0xe2)], [
      'db.example', rec.id, 'up-v2', '443', 'static text',
    ]);
    assert.equal(up.conns[n]!.rest.toString(), 'hello');
  });

  it('on a TLS upstream the header goes in the clear before the handshake; a plain client\'s unique_id is its record\'s id', async () => {
    const n = tlsUp.conns.length;
    const before = records.length;
    const { reply, localPort } = await ask(ports.plain, 'secret');
    assert.equal(reply, 'tls:secret');
    const c = tlsUp.conns[n]!;
    assert.deepEqual([c.header!.version, c.header!.src, c.header!.srcPort, c.header!.dstPort], [2, '127.0.0.1', localPort, ports.plain]);
    await until(() => records.length > before, 5000, 'the record');
    assert.equal(tlvText(c.header!, 0x05), records[records.length - 1]!.id);
    assert.equal(c.raw[c.header!.length], 0x16, 'a TLS handshake record follows the header');
    assert.equal(c.rest.toString(), 'secret');
  });

  it('a plain listener and upstream send nothing', async () => {
    current = snap([['plain', { server_port: ports.plain, upstream: { nodes: { [`127.0.0.1:${up.port}`]: 1 } } }]]);
    const n = up.conns.length;
    const { reply } = await ask(ports.plain, 'PROXY TCP4 bare data\r\n');
    assert.equal(reply, '');
    // the reader saw client bytes that merely look like a header: nothing of weir's came first
    assert.deepEqual(up.conns[n]!.raw.toString(), 'PROXY TCP4 bare data\r\n');
  });
});
