// Runs the shared TcpDataPlane contract against the Bun-native implementation. Under Bun (`bun test`) the
// cases run here directly; under node (npm test) this file runs itself with `bun test` and checks the outcome.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectRuntime } from '../../../../src/runtime/index';
import { createBunTcpDataPlane } from '../../../../src/runtime/tcp/bun/plane';
import { runTcpDataPlaneContract } from '../plane.cases';
import { countCases, runUnderBun } from '../../../helpers/bun';
import net from 'node:net';
import { after } from 'node:test';
import type { PipeResult } from '../../../../src/runtime/types';
import { Side } from '../../../../src/runtime/tcp/node/side';

if (detectRuntime() === 'bun') {
  runTcpDataPlaneContract(() => createBunTcpDataPlane());
  describeBridge();
} else {
  describe('Bun-native TcpDataPlane', () => {
    it('passes the shared TcpDataPlane contract under bun test', { timeout: 200_000 }, async () => {
      const r = await runUnderBun('test/runtime/tcp/bun/plane.test.ts', 180_000);
      assert.equal(r.fail, 0, r.output);
      // the shared contract plus the bridge case below
      assert.equal(r.pass + r.skip, countCases('test/runtime/tcp/plane.cases.ts') + 1, r.output);
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
      const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
        let got = 0;
        s.on('data', (d: Buffer) => (got += d.length));
        s.on('end', () => s.end(Buffer.alloc(SIZE, got === SIZE ? 0x55 : 0x00)));
      });
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
      closers.push(() => new Promise((r) => upstream.close(r)));
      const upPort = (upstream.address() as net.AddressInfo).port;
      const results: PipeResult[] = [];
      const accepted: boolean[] = [];
      const listener = await plane.listen({ host: '127.0.0.1', port: 0, tls: true }, (conn) => {
        accepted.push(conn instanceof Side); // a connection of the node plane
        plane.connect('127.0.0.1', upPort, 2000, (err, out) => {
          if (err || !out) return plane.destroy(conn);
          plane.pipe(conn, out, { idleTimeoutMs: 10_000 }, (r) => results.push(r));
        });
      });
      closers.push(() => listener.stop());
      const client = net.connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true });
      const reply: Buffer[] = [];
      client.on('data', (d: Buffer) => reply.push(d));
      const ended = new Promise((r) => client.once('end', r));
      client.end(Buffer.alloc(SIZE, 1));
      await ended;
      const body = Buffer.concat(reply);
      assert.equal(body.length, SIZE);
      assert.equal(body[0], 0x55, 'upstream did not get all bytes before the FIN');
      for (let i = 0; i < 500 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      client.destroy();
      assert.deepEqual(results, [{ bytesFromClient: SIZE, bytesToClient: SIZE, reason: 'closed' }]);
      assert.deepEqual(accepted, [true]);
    });
  });
}
