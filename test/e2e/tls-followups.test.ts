// End to end, issue 4 follow-ups: upstream certificate verification against apisix.ssl.ssl_trusted_certificate,
// the preread timeout as a config key, rate-limited handshake warnings, and shutdown of connections still
// in preread. Two weir instances: one trusts the fixture CA, the other a CA that did not sign the upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { configureErrorLog } from '../../src/log/logger';
import { freePort } from '../helpers/net';
import { startTestWeir, type TestWeir } from '../helpers/weir';
import { pem, startTlsEcho } from '../tls/fixtures';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tls');

/** Handshake with `servername`, send "x", collect until "x" comes back or the peer closes (5 s bound). */
function exchange(port: number, servername?: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const sock = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => sock.write('x'));
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (d) => {
      data += d.toString();
      if (data.endsWith('x')) sock.destroy();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

/** A raw TCP client that sends nothing; resolves when weir closes it (or after `boundMs`, with false). */
function silentClient(port: number, boundMs: number): { connected: Promise<void>; closed: Promise<boolean> } {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  const connected = new Promise<void>((r) => sock.once('connect', () => r()));
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, boundMs);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  return { connected, closed };
}

async function waitFor<T>(fn: () => T | undefined, boundMs = 5000): Promise<T> {
  for (let waited = 0; waited <= boundMs; waited += 20) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('condition not reached in time');
}

describe('TLS follow-ups end to end', () => {
  let trusting: TestWeir, other: TestWeir;
  let up: Awaited<ReturnType<typeof startTlsEcho>>;
  let T1: number, T2: number, P2: number;
  const errorLines: string[] = [];

  before(async () => {
    configureErrorLog({ sink: (text) => errorLines.push(...text.split('\n').filter(Boolean)) });
    up = await startTlsEcho();
    [T1, T2, P2] = [await freePort(), await freePort(), await freePort()];
    const trust = (file: string) => `  ssl:\n    ssl_trusted_certificate: ${JSON.stringify(join(FIXTURES, file))}`;
    trusting = await startTestWeir([`{addr: "127.0.0.1:${T1}", tls: true}`], { apisixYaml: trust('ca.crt') });
    // extraYaml follows the helper's nginx_config mapping, so it can add a stream key to it
    other = await startTestWeir([`{addr: "127.0.0.1:${T2}", tls: true}`, `{addr: "127.0.0.1:${P2}", tls_passthrough: true}`], {
      apisixYaml: trust('other-ca.crt'),
      extraYaml: '  stream:\n    preread_timeout: 300ms',
    });
    const upstream = (verify: boolean) => ({
      nodes: { [`127.0.0.1:${up.port}`]: 1 },
      type: 'roundrobin',
      scheme: 'tls',
      tls: { verify },
      checks: {
        active: { type: 'tcp', healthy: { interval: 300 }, unhealthy: { interval: 300 } },
        passive: { type: 'tcp', unhealthy: { tcp_failures: 1 } },
      },
    });
    for (const w of [trusting, other]) {
      const put = async (path: string, body: unknown) => {
        const r = await w.admin('PUT', path, body);
        assert.ok(r.status === 200 || r.status === 201, `${path}: ${JSON.stringify(r.body)}`);
      };
      await put('/apisix/admin/ssls/1', { ...pem.a, snis: ['a.test.com', 'b.test.com'] });
      await put('/apisix/admin/stream_routes/verify', { sni: 'a.test.com', upstream: upstream(true) });
      await put('/apisix/admin/stream_routes/noverify', { sni: 'b.test.com', upstream: upstream(false) });
    }
  });

  after(async () => {
    await Promise.all([trusting?.stop(), other?.stop()]);
    await up?.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('verify on with the CA that signed the node: the node certificate for the client SNI is accepted', async () => {
    assert.equal(await exchange(T1, 'a.test.com'), 'hello a.test.com\nx');
  });

  it('verify on with another CA: the client is closed, the access log says why, passive health counts it', async () => {
    const before = other.access.length;
    assert.equal(await exchange(T2, 'a.test.com'), '');
    const rec = await waitFor(() => other.access.slice(before).find((r) => r.route === 'verify'));
    assert.equal(rec.end, 'connect_failed');
    assert.equal(rec.error, `connect to 127.0.0.1:${up.port} failed after 1 attempt: UNABLE_TO_VERIFY_LEAF_SIGNATURE`);
    // passive unhealthy.tcp_failures is 1: this one failed handshake marked the node down (the weir that
    // trusts the right CA, same upstream config, keeps it healthy)
    const status = async (w: TestWeir) =>
      (await w.admin('GET', '/v1/healthcheck/stream_routes/verify')).body.nodes.map((n: any) => n.status);
    assert.deepEqual(await status(other), ['unhealthy']);
    assert.deepEqual(await status(trusting), ['healthy']);
  });

  it('verify off accepts a node certificate no trusted CA signed', async () => {
    assert.equal(await exchange(T2, 'b.test.com'), 'hello b.test.com\nx');
  });

  it('nginx_config.stream.preread_timeout closes a passthrough client that sends nothing', async () => {
    const before = other.access.length;
    const c = silentClient(P2, 5000);
    assert.equal(await c.closed, true);
    const rec = await waitFor(() => other.access.slice(before).find((r) => r.end === 'preread_timeout'));
    assert.deepEqual([rec.route, rec.upstream, rec.error], [null, null, 'no ClientHello before the preread timeout']);
  });

  it('handshake failures: one access line each, one error-log line per reason and period', async () => {
    const before = other.access.length;
    errorLines.length = 0;
    for (let i = 0; i < 5; i++) assert.equal(await exchange(T2), ''); // no SNI, no fallback_sni
    await waitFor(() => (other.access.length - before >= 5 ? true : undefined));
    assert.deepEqual(
      other.access.slice(before).map((r) => [r.end, r.error]),
      Array(5).fill(['tls_handshake_failed', 'failed to find SNI']),
    );
    assert.equal(errorLines.filter((l) => l.includes('TLS handshake failed')).length, 1);
  });

  it('shutdown closes a connection still in preread at once and counts it until then', async () => {
    const before = trusting.access.length;
    const c = silentClient(T1, 5000); // the default preread timeout is 30 s
    await c.connected;
    await waitFor(() => (trusting.weir.proxy.activeConnections() === 1 ? true : undefined));
    await trusting.weir.stop(10_000);
    assert.equal(await c.closed, true);
    assert.equal(trusting.weir.proxy.activeConnections(), 0);
    const recs = trusting.access.slice(before).map((r) => [r.end, r.error]);
    assert.deepEqual(recs, [['aborted', 'shutdown during ClientHello preread or TLS handshake']]);
  });
});
