// Native TLS termination on the Bun plane (src/runtime/tcp/bun/tls.ts): preread the ClientHello, upgrade the same socket,
// pipe the plaintext. Under node (npm test) this file runs itself with `bun test` and checks the outcome.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { detectRuntime } from '../../../../src/runtime/index';
import { createBunTcpDataPlane } from '../../../../src/runtime/tcp/bun/plane';
import type { InboundConn, PipeResult, TcpListener, TlsAcceptError, TlsAccepted, TlsCertificate } from '../../../../src/runtime/types';
import { countCases, runUnderBun } from '../../../helpers/bun';
import { pem } from '../../../tls/fixtures';

if (detectRuntime() === 'bun') describeNativeTls();
else {
  describe('Bun plane: native TLS termination', () => {
    it('passes its cases under bun test', { timeout: 120_000 }, async () => {
      const r = await runUnderBun('test/runtime/tcp/bun/tls.test.ts', 100_000);
      assert.equal(r.fail, 0, r.output);
      // the cases below, minus this wrapper
      assert.equal(r.pass, countCases('test/runtime/tcp/bun/tls.test.ts') - 1, r.output);
      assert.equal(r.code, 0, r.output);
    });
  });
}

interface Outcome {
  tls: TlsAccepted | null;
  error: TlsAcceptError | null;
  piped: Promise<PipeResult> | null;
}

function describeNativeTls(): void {
  describe('Bun plane: native TLS termination', () => {
    const plane = createBunTcpDataPlane();
    const closers: Array<() => unknown> = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    /** A TLS listener with one certificate, piping to an echo server; resolves each connection's outcome. */
    async function proxy(cert: TlsCertificate): Promise<{ port: number; next: () => Promise<Outcome> }> {
      const echo = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => {});
        s.pipe(s);
      });
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      closers.push(() => new Promise((r) => echo.close(r)));
      const outcomes: Array<Promise<Outcome>> = [];
      const listener: TcpListener = await plane.listen({ host: '127.0.0.1', port: 0, tls: true }, (conn: InboundConn) => {
        outcomes.push(
          new Promise((resolve) => {
            plane.preread(conn, 16_384, 2000, (_bytes, state) => {
              if (state !== 'data') return true;
              plane.startTls(conn, { certificate: cert, timeoutMs: 2000 }, (error, accepted) => {
                if (error !== null) return resolve({ tls: null, error, piped: null });
                plane.connect('127.0.0.1', (echo.address() as net.AddressInfo).port, 2000, (err, out) => {
                  if (err || !out) return plane.destroy(conn);
                  const piped = new Promise<PipeResult>((done) => plane.pipe(conn, out, { idleTimeoutMs: 5000, upstreamPrefix: null }, done));
                  resolve({ tls: accepted, error: null, piped });
                });
              });
              return true;
            });
          }),
        );
      });
      closers.push(() => listener.stop());
      let taken = 0;
      return {
        port: listener.port,
        next: async () => {
          for (let i = 0; i < 400 && outcomes.length <= taken; i++) await new Promise((r) => setTimeout(r, 5));
          return outcomes[taken++]!;
        },
      };
    }

    /** Connect, send `msg`, read until the proxy's FIN; resolves with the reply or the client's error. */
    function exchange(port: number, msg: string, extra: tls.ConnectionOptions = {}): Promise<{ reply: string; subject: string; error: string | null }> {
      return new Promise((resolve) => {
        let reply = '';
        let subject = '';
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test.com', ca: pem.ca, rejectUnauthorized: false, ...extra }, () => {
          subject = String((s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN ?? '');
          s.end(msg);
        });
        s.on('data', (d: Buffer) => (reply += d.toString()));
        s.on('error', (e) => resolve({ reply, subject, error: e.message }));
        s.on('close', () => resolve({ reply, subject, error: null }));
      });
    }

    const plain: TlsCertificate = { pairs: [pem.a], clientCa: null, clientDepth: 1, protocols: [] };
    const mutual: TlsCertificate = { pairs: [pem.a], clientCa: pem.ca, clientDepth: 1, protocols: [] };

    it('terminates with the chosen certificate, pipes the plaintext both ways and counts it', async () => {
      const p = await proxy(plain);
      const got = await exchange(p.port, 'hello through native tls');
      assert.deepEqual(got, { reply: 'hello through native tls', subject: 'a.test.com', error: null });
      const outcome = await p.next();
      assert.deepEqual(outcome.tls, { servername: 'a.test.com', protocol: 'TLSv1.3' });
      assert.deepEqual(await outcome.piped, { bytesFromClient: 24, bytesToClient: 24, reason: 'closed' });
    });

    it('mTLS: accepts a client certificate from the CA, reports a missing one as client_cert', async () => {
      const p = await proxy(mutual);
      const good = await exchange(p.port, 'm', { cert: pem.client.cert, key: pem.client.key });
      assert.equal(good.reply, 'm');
      assert.equal((await p.next()).error, null);
      const none = await exchange(p.port, 'm');
      assert.equal(none.reply, '');
      const outcome = await p.next();
      assert.equal(outcome.tls, null);
      assert.equal(outcome.error?.kind, 'client_cert');
    });
  });
}
