// Active probes against real servers on loopback, through the node:net / node:tls / node:dgram planes:
// tcp connects, HTTP requests (what the server receives, how statuses count), HTTPS against openssl s_server
// with verification on and off, UDP datagrams (reply, no reply, ICMP refused, a reply that does not match).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { compileHealthChecks } from '../../src/health/config';
import { type ProbePorts, runProbe } from '../../src/health/probe';
import type { ProbeOutcome } from '../../src/health/types';
import { createNodeTcpDataPlane } from '../../src/runtime/tcp/node/plane';
import { createNodeUdpDataPlane } from '../../src/runtime/udp/node';
import type { UpstreamNode } from '../../src/snapshot/types';
import { freePort, startServer, type TestServer } from '../helpers/net';
import { missingServers, startOpenSslWww, type OpenSslServer } from '../helpers/servers';
import { deadUdpPort, startUdpEcho, type UdpEcho } from '../helpers/udp';
import { pem } from '../tls/fixtures';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tls');
const tcp = createNodeTcpDataPlane();
const udp = createNodeUdpDataPlane();

function node(port: number, host = '127.0.0.1'): UpstreamNode {
  return { host, port, weight: 1, priority: 0, address: `${host}:${port}` };
}

/** One probe of `port` with `active` (timeout 0.3 s unless given); resolves with its outcome and time. */
function probe(active: Record<string, unknown>, port: number, ports: Partial<ProbePorts> = {}): Promise<{ outcome: ProbeOutcome; ms: number }> {
  const config = compileHealthChecks({ active: { timeout: 0.3, ...active } })!.active;
  return new Promise((resolve) =>
    runProbe({ tcp, udp, tls: null, ...ports }, config, node(port), (outcome, ms) => resolve({ outcome, ms })),
  );
}

describe('tcp probes', () => {
  let live: TestServer;
  before(async () => (live = await startServer((s) => s.end())));
  after(() => live.close());

  it('a live port is a success, a closed one a tcp_failure', async () => {
    const closed = await freePort();
    assert.deepEqual([(await probe({ type: 'tcp' }, live.port)).outcome, (await probe({ type: 'tcp' }, closed)).outcome], ['success', 'tcp_failure']);
  });
});

describe('http probes', () => {
  let server: http.Server;
  let port = 0;
  const requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }> = [];
  before(async () => {
    server = http.createServer((req, res) => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers });
      const status = Number(req.url!.split('/')[1]) || 404;
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('x'.repeat(100_000)); // a long body is never read
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  it('sends an HTTP/1.1 request with Connection: close, the headers and Host; the status decides', async () => {
    const outcomes: ProbeOutcome[] = [];
    for (const path of ['/200', '/302', '/503', '/404', '/301']) {
      outcomes.push((await probe({ type: 'http', http_path: path, host: 'db.example.test', req_headers: ['User-Agent: weir-probe'] }, port)).outcome);
    }
    assert.deepEqual(outcomes, ['success', 'success', 'http_failure', 'http_failure', 'ignored']);
    assert.deepEqual(
      requests.slice(0, 1).map((r) => [r.method, r.url, r.headers.host, r.headers.connection, r.headers['user-agent']]),
      [['GET', '/200', 'db.example.test', 'close', 'weir-probe']],
    );
  });

  it('a node that closes without an answer is a tcp_failure, one that says nothing a timeout, one that speaks no HTTP an http_failure', async () => {
    const closes = await startServer((s) => s.once('data', () => s.destroy()));
    const silent = await startServer((s) => s.resume());
    const ssh = await startServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    try {
      const slow = await probe({ type: 'http' }, silent.port);
      assert.deepEqual(
        [(await probe({ type: 'http' }, closes.port)).outcome, slow.outcome, (await probe({ type: 'http' }, ssh.port)).outcome],
        ['tcp_failure', 'timeout', 'http_failure'],
      );
      assert.ok(slow.ms >= 290 && slow.ms < 1000, `timed out after ${slow.ms} ms`);
    } finally {
      await Promise.all([closes.close(), silent.close(), ssh.close()]);
    }
  });

  it('checks.active.proxy_protocol: a probe writes the PROXY header before its request', async () => {
    const got: Buffer[] = [];
    const raw = await startServer((s) => {
      s.on('data', (d: Buffer) => {
        got.push(d);
        if (Buffer.concat(got).includes('\r\n\r\n')) s.end('HTTP/1.1 200 OK\r\n\r\n');
      });
    });
    try {
      // checks.active.proxy_protocol: a v1 upstream's probes start with PROXY UNKNOWN, then the request
      const config = compileHealthChecks({ active: { timeout: 0.3, type: 'http', proxy_protocol: true } }, 1)!.active;
      const outcome = await new Promise<ProbeOutcome>((resolve) => runProbe({ tcp, udp, tls: null }, config, node(raw.port), (o) => resolve(o)));
      assert.equal(outcome, 'success');
      assert.match(Buffer.concat(got).toString(), /^PROXY UNKNOWN\r\nGET \/ HTTP\/1\.1\r\n/);
    } finally {
      await raw.close();
    }
  });
});

describe('https probes against openssl s_server -www', { skip: missingServers('openssl') ?? false }, () => {
  let server: OpenSslServer;
  before(async () => {
    server = await startOpenSslWww(await freePort(), join(FIXTURES, 'a.test.com.crt'), join(FIXTURES, 'a.test.com.key'));
  });
  after(() => server?.close());

  const https = (a: Record<string, unknown>, ca: string | null) =>
    probe({ type: 'https', timeout: 3, ...a }, server.port, { tls: { verify: a.https_verify_certificate !== false, ca, cert: null, key: null } });

  it('verify on: trusted CA and the right name pass; an untrusted CA or another name fail as tcp_failure', async () => {
    const outcomes = [
      (await https({ host: 'a.test.com' }, pem.ca)).outcome,
      (await https({ host: 'a.test.com' }, null)).outcome, // the runtime's roots do not know the test CA
      (await https({ host: 'b.test.com' }, pem.ca)).outcome, // the certificate is not for this name
    ];
    assert.deepEqual(outcomes, ['success', 'tcp_failure', 'tcp_failure']);
  });

  it('verify off: any certificate, any name', async () => {
    assert.equal((await https({ https_verify_certificate: false, host: 'b.test.com' }, null)).outcome, 'success');
    assert.equal((await https({ https_verify_certificate: false }, null)).outcome, 'success'); // no SNI at all
  });

  it('plain HTTP to a TLS port is no HTTP answer', async () => {
    assert.notEqual((await probe({ type: 'http', timeout: 3 }, server.port)).outcome, 'success');
  });
});

describe('udp probes', () => {
  let echo: UdpEcho;
  before(async () => (echo = await startUdpEcho('re:')));
  after(() => echo.close());

  it('a reply that contains what is expected is a success; one that does not, an http_failure', async () => {
    const good = await probe({ type: 'udp', udp: { send: 'ping', expect: 're:ping' } }, echo.port);
    const bad = await probe({ type: 'udp', udp: { send: 'ping', expect_hex: '00' } }, echo.port);
    assert.deepEqual([good.outcome, bad.outcome], ['success', 'http_failure']);
    assert.deepEqual(echo.received.slice(-2), ['ping', 'ping']);
  });

  it('ICMP port unreachable is a tcp_failure at once; silence is a timeout', async () => {
    const dead = await probe({ type: 'udp', timeout: 2, udp: { send: 'x' } }, await deadUdpPort());
    assert.equal(dead.outcome, 'tcp_failure');
    assert.ok(dead.ms < 1000, `refusal took ${dead.ms} ms`);
    const sink = await startUdpEcho('', 0); // receives, never answers
    try {
      const quiet = await probe({ type: 'udp', udp: { send: 'x' } }, sink.port);
      assert.equal(quiet.outcome, 'timeout');
      assert.ok(quiet.ms >= 290, `timed out after ${quiet.ms} ms`);
    } finally {
      await sink.close();
    }
  });
});
