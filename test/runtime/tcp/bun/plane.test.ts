// Runs the shared TcpDataPlane contract against the Bun-native implementation. Under Bun (`bun test`) the
// cases run here directly; under node (npm test) this file runs itself with `bun test` and checks the outcome.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { detectRuntime } from '../../../../src/runtime/index';
import { createBunTcpDataPlane } from '../../../../src/runtime/tcp/bun/plane';
import { Side } from '../../../../src/runtime/tcp/node/side';
import type { InboundConn, PipeResult, TcpDataPlane, TlsConnectOptions } from '../../../../src/runtime/types';
import { runTcpDataPlaneContract } from '../plane.cases';
import { countCases, runUnderBun } from '../../../helpers/bun';
import { pem } from '../../../tls/fixtures';

/** The TLS-upstream bridge case runs with a Bun-native client and with a node-side one (nodeTls). */
const TLS_CLIENT_KINDS = [false, true] as const;

// a PROXY protocol v1 header
const HEADER = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n');

if (detectRuntime() === 'bun') {
  runTcpDataPlaneContract(() => createBunTcpDataPlane());
  describeBridge();
} else {
  describe('Bun-native TcpDataPlane', () => {
    it('passes the shared TcpDataPlane contract under bun test', { timeout: 200_000 }, async () => {
      const r = await runUnderBun('test/runtime/tcp/bun/plane.test.ts', 180_000);
      assert.equal(r.fail, 0, r.output);
      // the shared contract plus the bridge cases below: this file's cases but this one, the TLS-upstream case once
      // per client kind
      const own = countCases('test/runtime/tcp/bun/plane.test.ts') - 1 + (TLS_CLIENT_KINDS.length - 1);
      assert.equal(r.pass + r.skip, countCases('test/runtime/tcp/plane.cases.ts') + own, r.output);
      assert.ok(r.pass > 0, r.output);
      assert.equal(r.code, 0, r.output);
    });
  });
}

/**
 * With nodeTls, a listener with `tls: true` is served by the node plane (node:tls); its connections are piped to
 * Bun-native upstreams through the bridge. Without startTls() the bytes are plain, which is enough to
 * check the bridge's pump: 4 MiB each way at once, half-close in both orders, exact counts.
 */
function describeBridge(): void {
  describe('Bun plane: node-side connection piped to a Bun-native upstream', () => {
    const plane = createBunTcpDataPlane({ nodeTls: true });
    const closers: Array<() => unknown> = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    it('moves 4 MiB each way, passes both FINs on, counts exactly and reports once', { timeout: 30_000 }, async () => {
      const SIZE = 4 << 20;
      const upPort = await listenOn(closers, net.createServer({ allowHalfOpen: true }, (s) => {
        let got = 0;
        s.on('data', (d: Buffer) => (got += d.length));
        s.on('end', () => s.end(Buffer.alloc(SIZE, got === SIZE ? 0x55 : 0x00)));
      }));
      const proxy = await startProxy(plane, closers, upPort, { prereadBytes: 0, prefix: null, tls: null });
      const client = connectClient(proxy.port);
      client.socket.end(Buffer.alloc(SIZE, 1));
      await client.ended;
      const body = Buffer.concat(client.reply);
      assert.equal(body.length, SIZE);
      assert.equal(body[0], 0x55, 'upstream did not get all bytes before the FIN');
      await until(() => proxy.results.length === 1);
      client.socket.destroy();
      assert.deepEqual(proxy.results, [{ bytesFromClient: SIZE, bytesToClient: SIZE, reason: 'closed' }]);
      assert.deepEqual(proxy.accepted, [true]);
    });

    it('writes the prefix, then the preread bytes, from a node-side client to a Bun-native upstream', async () => {
      const got: Buffer[] = [];
      const upPort = await listenOn(closers, net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => s.end('ok'));
      }));
      const proxy = await startProxy(plane, closers, upPort, { prereadBytes: 5, prefix: HEADER, tls: null });
      const client = connectClient(proxy.port);
      client.socket.write('hello');
      await until(() => Buffer.concat(got).length >= HEADER.length + 5);
      client.socket.end(' world');
      await client.ended;
      await until(() => proxy.results.length === 1);
      client.socket.destroy();
      assert.equal(Buffer.concat(client.reply).toString(), 'ok');
      assert.equal(Buffer.concat(got).toString(), `${HEADER}hello world`);
      assert.deepEqual(proxy.results, [{ bytesFromClient: 11, bytesToClient: 2, reason: 'closed' }]);
      assert.deepEqual(proxy.accepted, [true]);
    });
  });

  /**
   * Upstream TLS runs on the node plane: a Bun-native client (or, with nodeTls, a node one) is piped to a node:tls
   * upstream. The prefix goes into the TLS stream first; 2 MiB of it and a slow upstream make the bridge queue.
   */
  for (const nodeTls of TLS_CLIENT_KINDS) {
    describe(`Bun plane: ${nodeTls ? 'node-side' : 'Bun-native'} client piped to a node:tls upstream`, () => {
      const plane = createBunTcpDataPlane({ nodeTls });
      const closers: Array<() => unknown> = [];
      after(async () => {
        for (const close of closers.reverse()) await close();
      });

      it('writes the prefix, then the preread bytes, then the rest, with backpressure; counts only client bytes', { timeout: 30_000 }, async () => {
        const prefix = Buffer.alloc(2 << 20, 0x50);
        const CLIENT = 1 << 20;
        const body = Buffer.alloc(CLIENT - 5, 0x63);
        const total = prefix.length + CLIENT;
        const h = createHash('sha256');
        let bytes = 0;
        const upPort = await listenOn(closers, tls.createServer({ cert: pem.a.cert, key: pem.a.key }, (s) => {
          s.on('error', () => {});
          s.pause(); // reads nothing for 200 ms
          s.on('data', (d: Buffer) => {
            h.update(d);
            bytes += d.length;
            if (bytes === total) s.end('ok');
          });
          setTimeout(() => s.resume(), 200);
        }));
        const upTls: TlsConnectOptions = { config: { verify: false, ca: null, cert: null, key: null }, servername: 'a.test.com' };
        const proxy = await startProxy(plane, closers, upPort, { prereadBytes: 5, prefix, tls: upTls });
        const client = connectClient(proxy.port);
        client.socket.write('hello');
        await until(() => bytes > 0 || proxy.results.length > 0);
        client.socket.write(body);
        await client.ended;
        client.socket.end();
        await until(() => proxy.results.length === 1);
        client.socket.destroy();
        const want = createHash('sha256').update(prefix).update('hello').update(body).digest('hex');
        assert.equal(Buffer.concat(client.reply).toString(), 'ok');
        assert.equal(bytes, total);
        assert.equal(h.digest('hex'), want, 'the upstream did not get prefix, preread bytes and the rest, in order');
        assert.deepEqual(proxy.results, [{ bytesFromClient: CLIENT, bytesToClient: 2, reason: 'closed' }]);
        assert.deepEqual(proxy.accepted, [nodeTls]);
      });
    });
  }
}

/** Poll (bounded) until cond() holds. */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited >= ms) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Listen on an ephemeral loopback port (closed after the suite); resolves with the port. */
async function listenOn(closers: Array<() => unknown>, server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

interface BridgeProxy {
  port: number;
  results: PipeResult[];
  /** Per accepted connection: whether it is the node plane's (a node-side client). */
  accepted: boolean[];
}

/**
 * A `tls: true` listener of the plane: preread `prereadBytes` (0: none), connect to the upstream (with TLS when
 * `tls` is set), pipe with `prefix`.
 */
async function startProxy(
  plane: TcpDataPlane,
  closers: Array<() => unknown>,
  upPort: number,
  o: { prereadBytes: number; prefix: Uint8Array | null; tls: TlsConnectOptions | null },
): Promise<BridgeProxy> {
  const proxy: BridgeProxy = { port: 0, results: [], accepted: [] };
  const dial = (conn: InboundConn): void =>
    plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
      if (err || !out) return plane.destroy(conn);
      plane.pipe(conn, out, { idleTimeoutMs: 10_000, upstreamPrefix: o.prefix }, (r) => proxy.results.push(r));
    }, o.tls);
  const listener = await plane.listen({ host: '127.0.0.1', port: 0, tls: true }, (conn) => {
    proxy.accepted.push(conn instanceof Side);
    if (o.prereadBytes === 0) return dial(conn);
    plane.preread(conn, 4096, 2000, (seen, state) => {
      if (state === 'data' && seen.length < o.prereadBytes) return false;
      dial(conn);
      return true;
    });
  });
  closers.push(() => listener.stop());
  proxy.port = listener.port;
  return proxy;
}

/** A plain client that collects the reply; `ended` resolves on the proxy's FIN. */
function connectClient(port: number): { socket: net.Socket; reply: Buffer[]; ended: Promise<unknown> } {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const reply: Buffer[] = [];
  socket.on('data', (d: Buffer) => reply.push(d));
  return { socket, reply, ended: new Promise((r) => socket.once('end', r)) };
}
