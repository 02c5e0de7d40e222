// PROXY protocol end to end through a whole weir (config file, Admin API, access log): a header in front of a
// TLS handshake (terminated and passed through), the client it names matching routes and going on to the
// upstream with the SNI, the TLS facts and the connection id as TLVs; the Admin API's errors for the field.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { configureErrorLog } from '../../src/log/logger';
import { freePort } from '../helpers/net';
import { ascii, startProxyReader, tlvText, type DecodedHeader, type ProxyReader } from '../helpers/proxy-protocol';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { pem, startTlsEcho, type TlsEcho } from '../tls/fixtures';

const HEADER = ascii('PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n');

/**
 * Connect, send `header` (byte by byte when `bytewise`), then run a TLS handshake with `servername` on the same
 * socket, write "x" and collect the reply until it ends with "x" or the connection closes (5 s bound).
 */
function tlsAfterHeader(port: number, header: Uint8Array, servername: string, bytewise = false): Promise<{ reply: string; cipher: string | null; version: string | null }> {
  return new Promise((resolve) => {
    const raw = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let reply = '';
    let cipher: string | null = null;
    let version: string | null = null;
    const timer = setTimeout(() => raw.destroy(), 5000);
    const done = (): void => {
      clearTimeout(timer);
      resolve({ reply, cipher, version });
    };
    raw.on('error', () => {});
    raw.on('connect', async () => {
      if (bytewise) {
        for (const b of header) {
          raw.write(Uint8Array.of(b));
          await new Promise((r) => setTimeout(r, 2));
        }
      } else raw.write(header);
      const s = tls.connect({ socket: raw, servername, rejectUnauthorized: false }, () => {
        cipher = s.getCipher()?.name ?? null;
        version = s.getProtocol();
        s.write('x');
      });
      s.on('data', (d: Buffer) => {
        reply += d;
        if (reply.endsWith('x')) s.destroy();
      });
      s.on('error', () => {});
      s.on('close', done);
    });
  });
}

/** The SSL TLV's parts: client bits, verify, and the sub-TLVs as text by type. */
function sslTlv(h: DecodedHeader): { client: number; verify: number; sub: Record<number, string> } | null {
  const v = h.tlvs.find(([t]) => t === 0x20)?.[1];
  if (v === undefined) return null;
  const sub: Record<number, string> = {};
  for (let at = 5; at + 3 <= v.length; ) {
    const n = v.readUInt16BE(at + 1);
    sub[v[at]!] = v.subarray(at + 3, at + 3 + n).toString();
    at += 3 + n;
  }
  return { client: v[0]!, verify: v.readUInt32BE(1), sub };
}

describe('PROXY protocol through weir', { timeout: 60_000 }, () => {
  let w: TestWeir;
  let reader: ProxyReader;
  let echo: TlsEcho;
  let T: number, P: number;
  const errors: string[] = [];

  before(async () => {
    configureErrorLog({ sink: (text) => errors.push(text) });
    reader = await startProxyReader('up');
    echo = await startTlsEcho();
    [T, P] = [await freePort(), await freePort()];
    w = await startTestWeir(
      [`{addr: "127.0.0.1:${T}", tls: true, proxy_protocol: true}`, `{addr: "127.0.0.1:${P}", tls_passthrough: true, proxy_protocol: true}`],
      { extraYaml: '  stream:\n    real_ip_from: ["127.0.0.0/8"]' },
    );
    const put = async (path: string, body: unknown): Promise<void> => {
      const r = await w.admin('PUT', path, body);
      assert.ok(r.status === 200 || r.status === 201, `${path}: ${JSON.stringify(r.body)}`);
    };
    await put('/apisix/admin/ssls/1', { ...pem.a, snis: ['a.test.com'] });
    await put('/apisix/admin/upstreams/pp', {
      nodes: { [`127.0.0.1:${reader.port}`]: 1 },
      proxy_protocol: { version: 2, tlvs: ['authority', 'ssl', 'unique_id', { type: 0xe0, value: '$route_id' }] },
    });
    // the header's client decides: 192.0.2.0/24 goes to the PROXY-reading upstream, anyone else nowhere
    await put('/apisix/admin/stream_routes/doc', { server_port: T, remote_addr: '192.0.2.0/24', upstream_id: 'pp' });
    await put('/apisix/admin/stream_routes/pass', { server_port: P, remote_addr: '192.0.2.0/24', upstream: { nodes: { [`127.0.0.1:${echo.port}`]: 1 } } });
  });
  after(async () => {
    await w?.stop();
    await reader?.close();
    await echo?.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('terminating listener: the header comes first, its client matches the route, and the upstream gets SNI, TLS facts and the id', async () => {
    const n = reader.conns.length;
    const before = w.access.length;
    const { reply, cipher, version } = await tlsAfterHeader(T, HEADER, 'a.test.com');
    assert.equal(reply, 'up:x');
    await waitFor(() => w.access.slice(before).some((r) => r.route === 'doc'), 5000, 'the record');
    const rec = w.access.slice(before).find((r) => r.route === 'doc')!;
    assert.deepEqual([rec.route, rec.client, rec.end], ['doc', '192.0.2.1:56324', 'closed']);
    assert.match(rec.proxy_peer!, /^127\.0\.0\.1:\d+$/);
    const h = reader.conns[n]!.header!;
    assert.deepEqual([h.version, h.src, h.srcPort, h.dst, h.dstPort], [2, '192.0.2.1', 56324, '192.0.2.11', 443]);
    assert.deepEqual([tlvText(h, 0x02), tlvText(h, 0x05), tlvText(h, 0xe0)], ['a.test.com', rec.id, 'doc']);
    // client 0x01: over TLS, no certificate; verify 1: no certificate verified; version and cipher as negotiated
    assert.deepEqual(sslTlv(h), { client: 1, verify: 1, sub: { 0x21: version!, 0x23: cipher! } });
  });

  it('the same with the header delivered one byte per segment', async () => {
    const { reply } = await tlsAfterHeader(T, HEADER, 'a.test.com', true);
    assert.equal(reply, 'up:x');
  });

  it('passthrough listener: the header is consumed and the ClientHello reaches the node untouched', async () => {
    const before = w.access.length;
    const { reply } = await tlsAfterHeader(P, HEADER, 'a.test.com');
    assert.equal(reply, 'hello a.test.com\nx'); // the node completed the client's own handshake
    await waitFor(() => w.access.slice(before).some((r) => r.route === 'pass'), 5000, 'the record');
    const rec = w.access.slice(before).find((r) => r.route === 'pass')!;
    assert.deepEqual([rec.route, rec.client, rec.end], ['pass', '192.0.2.1:56324', 'closed']);
  });

  it('a TLS client that sends no header is refused as not a PROXY header, before any handshake', async () => {
    const before = w.access.length;
    const got = await new Promise<string>((resolve) => {
      const s = tls.connect({ port: T, host: '127.0.0.1', servername: 'a.test.com', rejectUnauthorized: false });
      s.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
      s.on('secureConnect', () => resolve('handshake'));
    });
    assert.notEqual(got, 'handshake');
    await waitFor(() => w.access.slice(before).some((r) => r.route === null), 5000, 'the record');
    const rec = w.access.slice(before).find((r) => r.route === null)!;
    assert.deepEqual([rec.end, rec.error], ['proxy_protocol_invalid', 'not a PROXY protocol header: first byte 0x16 is neither "P" (v1) nor 0x0D (v2)']);
  });

  it('the Admin API refuses a bad proxy_protocol with the item named', async () => {
    const r = await w.admin('PUT', '/apisix/admin/upstreams/bad', { nodes: { '127.0.0.1:1': 1 }, proxy_protocol: { version: 2, tlvs: ['authority', { type: 0x90, value: 'x' }] } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error_msg: 'invalid configuration: property "proxy_protocol" validation failed: property "tlvs" validation failed: failed to validate item 2: type 0x90 is not custom (0xE0-0xEF)' });
  });
});
