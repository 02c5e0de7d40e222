// The PROXY step of the prelude on a live proxy_protocol listener: the header's source becomes the client
// (route, log), its bytes never reach the upstream, any segmentation works, and every refusal closes the
// connection with its reason in the log and nothing forwarded. Runs on the runtime's own data plane (Bun's
// native one under bun test).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startTcpProxy, type TcpProxy } from '../../../src/proxy/listener/tcp';
import { createTcpDataPlane } from '../../../src/runtime/index';
import { buildSnapshot } from '../../../src/snapshot/build';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../../src/log/logger';
import { parseProxyHeader } from '../../../src/proxy/prelude/proxy-protocol';
import type { Snapshot } from '../../../src/snapshot/types';
import type { StoredObject } from '../../../src/store/types';
import { HAPROXY_VECTORS } from '../../fixtures/proxy-protocol/haproxy-vectors';
import { ascii, cat, INET_BLOCK, seededRandom, tlv, u16, v2 } from '../../helpers/proxy-protocol';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error(`${what} not reached in time`);
    await wait(5);
  }
}

/** An upstream that keeps every byte each connection sent it and answers each chunk with "<name>:<chunk>". */
async function recorder(name: string) {
  const conns: Buffer[][] = [];
  const srv = net.createServer((s) => {
    const got: Buffer[] = [];
    conns.push(got);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      got.push(d);
      s.write(`${name}:${d.length}`);
    });
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    conns,
    received: () => conns.map((c) => Buffer.concat(c).toString('latin1')),
    close: () => new Promise((r) => srv.close(r)),
  };
}

/** Send the chunks as separate segments (a pause between them), then FIN; resolves with the reply once closed. */
function send(port: number, chunks: Uint8Array[], gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
    let reply = '';
    const timer = setTimeout(() => s.destroy(), 8000);
    s.on('data', (d: Buffer) => (reply += d.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(reply);
    });
    s.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (s.destroyed) return;
        s.write(chunks[i]!);
        if (gapMs > 0 && i < chunks.length - 1) await wait(gapMs);
      }
      s.end();
    });
  });
}

let revision = 0;
function snap(routes: Array<[string, Record<string, unknown>]>): Snapshot {
  revision++;
  const rows = routes.map(([id, value]): StoredObject => {
    const full = { id, ...value };
    return { id, value: full, createdIndex: revision, modifiedIndex: revision, raw: JSON.stringify(full) };
  });
  return buildSnapshot({ revision, streamRoutes: rows, upstreams: [], ssls: [], unreadable: [] }, null).snapshot;
}

// 192.0.2.1:56324 -> 192.0.2.11:443, as v1 and as v2 (with an authority and a custom TLV)
const V1 = ascii('PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n');
const V2 = v2(0x21, 0x11, cat([192, 0, 2, 1, 192, 0, 2, 11, ...u16(56324), ...u16(443)], tlv(0x02, 'db.example'), tlv(0xe0, 'tenant-7')));
const V2_TCP6 = v2(0x21, 0x21, cat([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 5], [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 6], u16(4000), u16(9000)));
const V2_LOCAL = v2(0x20, 0x00, []);

describe('PROXY protocol prelude on a live listener', { timeout: 120_000 }, () => {
  let a: Awaited<ReturnType<typeof recorder>>;
  let b: Awaited<ReturnType<typeof recorder>>;
  let proxy: TcpProxy;
  let strict: TcpProxy;
  let port: number;
  let strictPort: number;
  let current: Snapshot;
  const records: AccessRecord[] = [];
  const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
  const last = (): AccessRecord => records[records.length - 1]!;

  before(async () => {
    configureErrorLog({ sink: () => {} });
    a = await recorder('A');
    b = await recorder('B');
    current = snap([
      ['1', { remote_addr: '192.0.2.0/24', upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } }],
      ['2', { remote_addr: '2001:db8::/32', upstream: { nodes: { [`127.0.0.1:${a.port}`]: 1 } } }],
      ['9', { upstream: { nodes: { [`127.0.0.1:${b.port}`]: 1 } } }],
    ]);
    // 5 s: a header sent one byte per segment, 2 ms apart, took over 400 ms on a busy machine
    const common = { snapshot: () => current, accessLog, tls: { fallbackSni: null, prereadTimeoutMs: 5000 } };
    proxy = await startTcpProxy({
      ...common,
      plane: await createTcpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, tls: false, proxyProtocol: true, origin: 'apisix.stream_proxy.tcp[0]' }],
    });
    port = proxy.listeners[0]!.port;
    strict = await startTcpProxy({
      ...common,
      plane: await createTcpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, tls: false, proxyProtocol: true, origin: 'apisix.stream_proxy.tcp[0]' }],
      realIpFrom: ['10.0.0.0/8'],
    });
    strictPort = strict.listeners[0]!.port;
  });
  after(async () => {
    await proxy.shutdown(0);
    await strict.shutdown(0);
    await a.close();
    await b.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  /** Send, wait for the record; returns [reply, record]. */
  async function through(chunks: Uint8Array[], gapMs = 0, to = port): Promise<[string, AccessRecord]> {
    const before = records.length;
    const reply = await send(to, chunks, gapMs);
    await until(() => records.length > before, 10_000, 'the access record');
    return [reply, last()];
  }

  const fields = (r: AccessRecord) => [r.route, r.client, r.end];

  it('v1: the header\'s source picks the route and is the logged client; the peer is proxy_peer; the upstream gets the data alone', async () => {
    const seen = a.conns.length;
    const [reply, rec] = await through([cat(V1, 'hello')]);
    assert.equal(reply, 'A:5');
    assert.deepEqual(fields(rec), ['1', '192.0.2.1:56324', 'closed']);
    assert.match(rec.proxy_peer!, /^127\.0\.0\.1:\d+$/);
    assert.equal(rec.server, `127.0.0.1:${port}`); // matching and the log keep weir's own address
    assert.equal(rec.bytes_from_client, 5);
    assert.deepEqual(a.received().slice(seen), ['hello']);
  });

  it('v2 TCP4 with TLVs and v2 TCP6 name the client; v2 LOCAL keeps the peer as the client, without proxy_peer', async () => {
    assert.deepEqual(fields((await through([cat(V2, 'x')]))[1]), ['1', '192.0.2.1:56324', 'closed']);
    assert.deepEqual(fields((await through([cat(V2_TCP6, 'x')]))[1]), ['2', '[2001:db8::5]:4000', 'closed']);
    const [reply, local] = await through([cat(V2_LOCAL, 'ping')]);
    assert.equal(reply, 'B:4');
    assert.equal(local.route, '9');
    assert.match(local.client, /^127\.0\.0\.1:\d+$/);
    assert.equal(local.proxy_peer, undefined);
  });

  it('reads the headers a real HAProxy sent (fixtures), v1 and v2, IPv4 and IPv6', async () => {
    const want: Record<string, string> = {
      v1Tcp4: '127.0.0.1:34544', v1Tcp6: '[::1]:44226', v2Tcp4: '127.0.0.1:35408', v2Tcp6: '[::1]:40144',
    };
    for (const [name, client] of Object.entries(want)) {
      const vec = HAPROXY_VECTORS[name as keyof typeof HAPROXY_VECTORS];
      const [reply, rec] = await through([Buffer.from(vec.hex, 'hex')]);
      assert.deepEqual([name, reply, rec.client, rec.bytes_from_client], [name, 'B:5', client, 5]);
    }
  });

  it('parses a header cut at every byte boundary the same as the whole one (two segments each)', async () => {
    for (const header of [V1, V2]) {
      const whole = fields((await through([cat(header, 'data')]))[1]);
      for (let k = 1; k < header.length; k++) {
        const [reply, rec] = await through([header.subarray(0, k), cat(header.subarray(k), 'data')], 3);
        assert.deepEqual([k, reply, ...fields(rec), rec.bytes_from_client], [k, 'A:4', ...whole, 4]);
      }
    }
  });

  it('parses a header delivered one byte per segment, then the data', async () => {
    for (const header of [V1, V2, V2_TCP6]) {
      const bytes = [...header].map((x) => Uint8Array.of(x));
      const [reply, rec] = await through([...bytes, ascii('data')], 2);
      assert.equal(reply, 'A:4');
      assert.equal(rec.end, 'closed');
      assert.equal(rec.bytes_from_client, 4);
    }
  });

  it('forwards 256 KiB that came in the same write as the header, intact', async () => {
    const body = Buffer.alloc(256 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
    const seen = a.conns.length;
    const [, rec] = await through([cat(V2, body)]);
    assert.equal(rec.bytes_from_client, body.length);
    const got = Buffer.concat(a.conns[seen]!);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'));
  });

  it('refuses what is not a PROXY header, with the parser\'s reason, and forwards nothing', async () => {
    const seen = a.conns.length + b.conns.length;
    const cases: Array<[Uint8Array, string]> = [
      [ascii('GET / HTTP/1.1\r\n\r\n'), 'not a PROXY protocol header: first byte 0x47 is neither "P" (v1) nor 0x0D (v2)'],
      [ascii('PROXY TCP4 1.2.3.4\r\n'), parseReason(ascii('PROXY TCP4 1.2.3.4\r\n'))],
      [v2(0x21, 0x11, INET_BLOCK, 0x1000), parseReason(v2(0x21, 0x11, INET_BLOCK, 0x1000))],
    ];
    for (const [bytes, reason] of cases) {
      const [reply, rec] = await through([cat(bytes, 'secret')]);
      assert.deepEqual([reply, rec.route, rec.upstream, rec.end, rec.error, rec.bytes_from_client], ['', null, null, 'proxy_protocol_invalid', reason, 0]);
      assert.equal(rec.proxy_peer, undefined);
    }
    assert.equal(a.conns.length + b.conns.length, seen, 'no upstream connection was made');
  });

  it('closes a client that ends inside its header (client_closed) or stays silent (preread_timeout)', async () => {
    const [, cut] = await through([V2.subarray(0, 20)]);
    assert.deepEqual([cut.end, cut.error], ['client_closed', 'client closed before sending its PROXY protocol header']);
    const silent = net.connect({ port, host: '127.0.0.1' });
    silent.on('error', () => {});
    const started = Date.now();
    const before = records.length;
    await until(() => records.length > before, 15_000, 'the timeout record');
    assert.ok(Date.now() - started >= 4950, 'closed before preread_timeout');
    assert.deepEqual([last().end, last().error], ['preread_timeout', 'no PROXY protocol header before the preread timeout']);
    silent.destroy();
  });

  it('refuses a peer outside real_ip_from before reading anything', async () => {
    const seen = a.conns.length + b.conns.length;
    const [reply, rec] = await through([cat(V1, 'hello')], 0, strictPort);
    assert.equal(reply, '');
    assert.deepEqual([rec.end, rec.error, rec.route], ['proxy_protocol_untrusted', 'peer 127.0.0.1 is not in nginx_config.stream.real_ip_from', null]);
    assert.match(rec.client, /^127\.0\.0\.1:\d+$/);
    assert.equal(a.conns.length + b.conns.length, seen);
  });

  it('takes 10,000 malformed and truncated headers without forwarding a byte, and still serves afterwards', { timeout: 90_000 }, async () => {
    const seen = a.conns.length + b.conns.length;
    const before = records.length;
    const rand = seededRandom(14);
    const valid = [V1, V2, V2_TCP6, ascii('PROXY TCP6 ::1 ::2 1 2\r\n')];
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    /** A header that the parser refuses or that ends early, with data behind it; never a valid one. */
    function malformed(): Uint8Array {
      for (;;) {
        const base = Uint8Array.from(pick(valid));
        const kind = rand();
        let bytes: Uint8Array;
        if (kind < 0.3) {
          for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
          bytes = base;
        } else if (kind < 0.5) bytes = base.subarray(0, Math.floor(rand() * base.length));
        else if (kind < 0.7) bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
        else bytes = cat(base.subarray(0, Math.floor(rand() * base.length)), Uint8Array.from({ length: 8 }, () => Math.floor(rand() * 256)));
        const sent = cat(bytes, 'must-not-pass');
        if (parseProxyHeader(sent).kind !== 'done') return sent;
      }
    }
    const N = 10_000;
    const started = Date.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < N) {
        next++;
        await send(port, [malformed()]);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    await until(() => records.length - before >= N, 20_000, 'every record');
    const ends = new Set(records.slice(before).map((r) => r.end));
    for (const end of ends) assert.ok(['proxy_protocol_invalid', 'client_closed'].includes(end), end);
    assert.ok(records.slice(before).every((r) => r.route === null && r.bytes_from_client === 0 && typeof r.error === 'string'));
    assert.equal(a.conns.length + b.conns.length, seen, 'a malformed header reached an upstream');
    assert.equal(proxy.activeConnections(), 0);
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
    const [reply, rec] = await through([cat(V1, 'still')]);
    assert.deepEqual([reply, rec.end, rec.client], ['A:5', 'closed', '192.0.2.1:56324']);
  });
});

function parseReason(bytes: Uint8Array): string {
  const r = parseProxyHeader(bytes);
  assert.equal(r.kind, 'invalid');
  return (r as { reason: string }).reason;
}
