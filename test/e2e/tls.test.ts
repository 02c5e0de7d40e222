// End to end TLS: weir in-process with terminating, passthrough and mixed listeners; real node:tls and
// openssl s_client clients; plain and TLS echo upstreams; SSL objects changed through the Admin API.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { freePort, startEchoServer, type TestServer } from '../helpers/net';
import { hasCommand } from '../helpers/servers';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { pem, pemBodyLine, startTlsEcho, type TlsEcho } from '../tls/fixtures';

interface TlsResult {
  ok: boolean;
  error?: string;
  subject?: string;
  data: string;
}

/** TLS client: handshake with `servername`, send `send`, read until `until` appears or the peer closes (5 s bound). */
function tlsExchange(port: number, servername: string | null, send: string, until: string, extra: tls.ConnectionOptions = {}): Promise<TlsResult> {
  return new Promise((resolve) => {
    let data = '';
    let subject: string | undefined;
    let settled = false;
    const done = (r: Omit<TlsResult, 'data' | 'subject'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, data, subject });
    };
    const sock = tls.connect({ host: '127.0.0.1', port, ca: pem.ca, ...(servername ? { servername } : {}), rejectUnauthorized: false, ...extra }, () => {
      const c = sock.getPeerCertificate();
      subject = `${c.subject.CN}/${c.subject.O ?? ''}`;
      sock.write(send);
    });
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), 5000);
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes(until)) done({ ok: true });
    });
    sock.on('error', (e) => done({ ok: false, error: e.message }));
    sock.on('close', () => done({ ok: subject !== undefined && data.includes(until), error: 'closed' }));
  });
}

describe('TLS end to end', () => {
  let w: TestWeir;
  let n1: TestServer, n2: TestServer, n3: TestServer;
  let up: TlsEcho, upMtls: TlsEcho;
  let T: number, P: number, M: number, L: number;

  before(async () => {
    [n1, n2, n3] = await Promise.all([startEchoServer('n1:'), startEchoServer('n2:'), startEchoServer('n3:')]);
    up = await startTlsEcho();
    upMtls = await startTlsEcho(true);
    [T, P, M, L] = [await freePort(), await freePort(), await freePort(), await freePort()];
    w = await startTestWeir([
      `{addr: "127.0.0.1:${T}", tls: true}`,
      `{addr: "127.0.0.1:${P}", tls_passthrough: true}`,
      `{addr: "127.0.0.1:${M}", tls: true, tls_passthrough: true}`,
      `"127.0.0.1:${L}"`,
    ]);
    const node = (p: number) => ({ nodes: { [`127.0.0.1:${p}`]: 1 }, type: 'roundrobin' });
    const put = async (path: string, body: unknown) => {
      const r = await w.admin('PUT', path, body);
      assert.ok(r.status === 200 || r.status === 201, `${path}: ${JSON.stringify(r.body)}`);
    };
    await put('/apisix/admin/ssls/1', { ...pem.a, sni: 'a.test.com' });
    await put('/apisix/admin/ssls/2', { ...pem.wild, certs: [pem.wildEc.cert], keys: [pem.wildEc.key], snis: ['*.test.com'] });
    await put('/apisix/admin/ssls/3', { ...pem.a, snis: ['mtls.test.com'], client: { ca: pem.ca, depth: 1 } });
    await put('/apisix/admin/ssls/c', { ...pem.client, type: 'client' });
    await put('/apisix/admin/stream_routes/t1', { sni: 'a.test.com', server_port: T, upstream: node(n1.port) });
    await put('/apisix/admin/stream_routes/t2', { snis: ['*.test.com', 'mtls.test.com'], server_port: T, upstream: node(n2.port) });
    await put('/apisix/admin/stream_routes/t3', { sni: 'up.test.com', server_port: T, upstream: { ...node(up.port), scheme: 'tls' } });
    await put('/apisix/admin/stream_routes/t4', { sni: 'mup.test.com', server_port: T, upstream: { ...node(upMtls.port), scheme: 'tls', tls: { client_cert_id: 'c' } } });
    await put('/apisix/admin/stream_routes/l1', { server_port: L, upstream: { ...node(up.port), scheme: 'tls' } });
    await put('/apisix/admin/stream_routes/p1', { sni: 'a.test.com', server_port: P, upstream: node(up.port) });
    await put('/apisix/admin/stream_routes/m1', { sni: 'a.test.com', server_port: M, tls_passthrough: true, upstream: node(up.port) });
    await put('/apisix/admin/stream_routes/m2', { sni: '*.test.com', server_port: M, upstream: node(n3.port) });
  });

  after(async () => {
    await w?.stop();
    await Promise.all([n1?.close(), n2?.close(), n3?.close(), up?.close(), upMtls?.close()]);
  });

  it('picks the certificate by SNI (exact, then one-label wildcard) and routes by SNI', async () => {
    const a = await tlsExchange(T, 'a.test.com', 'x', 'n1:x');
    assert.deepEqual([a.ok, a.subject], [true, 'a.test.com/first']);
    // ssl 2 holds an RSA and an ECDSA pair: the client's signature algorithms decide which one is served
    const ec = await tlsExchange(T, 'B.Test.Com.', 'y', 'n2:y');
    assert.deepEqual([ec.ok, ec.subject], [true, '*.test.com/ecdsa']);
    const rsa = await tlsExchange(T, 'b.test.com', 'z', 'n2:z', { sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' });
    assert.deepEqual([rsa.ok, rsa.subject], [true, '*.test.com/']);
  });

  it('fails the handshake for an unknown SNI, two labels under a wildcard, or no SNI', async () => {
    const before = w.access.length;
    for (const name of ['other.com', 'x.b.test.com', null]) {
      const r = await tlsExchange(T, name, 'x', 'never');
      assert.equal(r.ok, false, String(name));
      assert.equal(r.subject, undefined);
    }
    const ends = w.access.slice(before).filter((r) => r.end !== 'closed').map((r) => [r.end, r.error]);
    assert.deepEqual(ends, [
      ['tls_handshake_failed', 'failed to match any SSL certificate by SNI: other.com'],
      ['tls_handshake_failed', 'failed to match any SSL certificate by SNI: x.b.test.com'],
      ['tls_handshake_failed', 'failed to find SNI'],
    ]);
  });

  it('openssl s_client -servername gets the matching certificate', { skip: !hasCommand('openssl') && 'openssl not installed' }, async () => {
    // async spawn: weir runs in this process and must keep serving while openssl talks to it
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${T}`, '-servername', 'a.test.com', '-CAfile', 'test/fixtures/tls/ca.crt'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 10000);
    child.stdin.end('hi\n');
    await new Promise((r) => child.on('close', r));
    clearTimeout(timer);
    assert.match(out, /subject=CN ?= ?a\.test\.com, O ?= ?first/);
    assert.match(out, /Verify return code: 0 \(ok\)/);
  });

  it('mTLS: a client certificate from the CA is accepted; none or an untrusted one fails the handshake', async () => {
    const good = await tlsExchange(T, 'mtls.test.com', 'm', 'n2:m', { ...pem.client });
    assert.equal(good.ok, true);
    const none = await tlsExchange(T, 'mtls.test.com', 'm', 'n2:m');
    assert.equal(none.ok, false);
    const bad = await tlsExchange(T, 'mtls.test.com', 'm', 'n2:m', { ...pem.badClient });
    assert.equal(bad.ok, false);
    const fails = w.access.filter((r) => r.end === 'tls_handshake_failed' && String(r.error).startsWith('client_cert'));
    assert.equal(fails.length, 2);
  });

  it('upstream TLS sends the client SNI after termination, apisix_backend for plain TCP, and a client cert when set', async () => {
    const viaTls = await tlsExchange(T, 'up.test.com', 'q', 'q');
    assert.equal(viaTls.data, 'hello up.test.com\nq');
    const plain = await new Promise<string>((resolve) => {
      const s = net.connect(L, '127.0.0.1', () => s.write('p'));
      let d = '';
      const timer = setTimeout(() => s.destroy(), 5000);
      s.on('data', (c) => {
        d += c;
        if (d.endsWith('p')) {
          clearTimeout(timer);
          s.destroy();
        }
      });
      s.on('close', () => resolve(d));
    });
    assert.equal(plain, 'hello apisix_backend\np');
    const mtls = await tlsExchange(T, 'mup.test.com', 'k', 'k');
    assert.equal(mtls.data, 'hello mup.test.com\nk');
  });

  it('passthrough forwards the untouched TLS session: the client sees the upstream certificate', async () => {
    const r = await tlsExchange(P, 'a.test.com', 'u', 'u');
    assert.deepEqual([r.ok, r.subject, r.data], [true, 'a.test.com/second', 'hello a.test.com\nu']);
  });

  it('passthrough: a ClientHello split over several segments still routes', async () => {
    const raw = net.connect(P, '127.0.0.1');
    let first = true;
    const { Duplex } = await import('node:stream');
    const duplex = new Duplex({
      write(chunk: Buffer, _enc, cb) {
        if (!first) return raw.write(chunk, () => cb());
        first = false;
        raw.write(chunk.subarray(0, 3));
        setTimeout(() => raw.write(chunk.subarray(3, 60)), 30);
        setTimeout(() => raw.write(chunk.subarray(60), () => cb()), 60);
      },
      read() {},
    });
    raw.on('data', (d) => duplex.push(d));
    raw.on('close', () => duplex.push(null));
    const r = await tlsExchange(0, 'a.test.com', 'Z9', 'Z9', { socket: duplex as unknown as net.Socket });
    raw.destroy();
    assert.deepEqual([r.ok, r.data], [true, 'hello a.test.com\nZ9']);
  });

  it('passthrough: a non-TLS first byte closes the connection with no data and a not_tls record', async () => {
    let me = '';
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(P, '127.0.0.1', () => {
        me = `127.0.0.1:${s.localPort}`;
        s.write('GET / HTTP/1.0\r\n\r\n');
      });
      let d = '';
      s.on('data', (c) => (d += c));
      s.on('error', () => {});
      s.on('close', () => resolve(d));
    });
    assert.equal(got, '');
    // the record is written after the close the client saw, in the access log's next batch
    await waitFor(() => w.access.some((r) => r.client === me), 5000, 'the not_tls access record');
    const mine = w.access.filter((r) => r.client === me);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.end, 'not_tls');
    assert.match(String(mine[0]!.error), /first byte 0x47/);
  });

  it('mixed listener: passthrough or termination per matched route', async () => {
    const pass = await tlsExchange(M, 'a.test.com', '1', '1');
    assert.deepEqual([pass.subject, pass.data], ['a.test.com/second', 'hello a.test.com\n1']);
    const term = await tlsExchange(M, 'c.test.com', '2', 'n3:2');
    assert.deepEqual([term.ok, term.subject], [true, '*.test.com/ecdsa']);
  });

  it('a certificate replaced through the API serves the next handshake; open connections continue', async () => {
    const open = tls.connect({ host: '127.0.0.1', port: T, servername: 'a.test.com', rejectUnauthorized: false });
    await new Promise((r) => open.once('secureConnect', r));
    const r = await w.admin('PUT', '/apisix/admin/ssls/1', { ...pem.a2, sni: 'a.test.com' });
    assert.equal(r.status, 200);
    const next = await tlsExchange(T, 'a.test.com', 'r', 'n1:r');
    assert.equal(next.subject, 'a.test.com/second');
    const echoed = await new Promise<string>((resolve) => {
      let d = '';
      open.on('data', (c) => {
        d += c;
        if (d.includes('n1:old')) resolve(d);
      });
      open.write('old');
    });
    open.destroy();
    assert.equal(echoed, 'n1:old');
    const del = await w.admin('DELETE', '/apisix/admin/ssls/1');
    assert.equal(del.status, 200);
    const gone = await tlsExchange(T, 'a.test.com', 'r', 'n1:r');
    assert.equal(gone.subject, '*.test.com/ecdsa'); // a.test.com now falls back to the wildcard certificate
  });

  it('GET never returns the key; the database file holds no private key in clear', async () => {
    const r = await w.admin('GET', '/apisix/admin/ssls/2');
    assert.equal(r.body.value.key, undefined);
    assert.equal(r.body.value.keys, undefined);
    const file = readFileSync(w.dbPath, 'latin1') + readFileSync(w.dbPath + '-wal', 'latin1');
    assert.ok(file.includes(pemBodyLine(pem.wild.cert)), 'the certificate is stored');
    for (const [name, key] of Object.entries({ wild: pem.wild.key, wildEc: pem.wildEc.key, client: pem.client.key, a: pem.a.key })) {
      assert.equal(file.includes(pemBodyLine(key)), false, name);
    }
  });
});
