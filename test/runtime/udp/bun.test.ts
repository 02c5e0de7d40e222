// Runs the shared UdpDataPlane contract against the Bun.udpSocket implementation, plus what only it has: sharing a
// port through the reuse-port socket flag (multi-core workers). Under Bun (`bun test`) the cases run here
// directly; under node (npm test) this file runs itself with `bun test` and checks the outcome.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectRuntime } from '../../../src/runtime/index';
import { createBunUdpDataPlane } from '../../../src/runtime/udp/bun';
import { runUdpDataPlaneContract } from './plane.cases';
import { countCases, runUnderBun } from '../../helpers/bun';
import { deadUdpPort } from '../../helpers/udp';

/** Cases of this file beside the shared contract. */
const OWN_CASES = 2;

if (detectRuntime() === 'bun') {
  runUdpDataPlaneContract(() => createBunUdpDataPlane());
  describe('Bun-native UdpDataPlane: SO_REUSEPORT', () => {
    it('with reusePort two listeners bind one port (the flag Bun.udpSocket takes has not moved)', async () => {
      const port = await deadUdpPort();
      const plane = createBunUdpDataPlane({ reusePort: true });
      const a = await plane.bind({ host: '127.0.0.1', port }, () => {});
      const b = await plane.bind({ host: '127.0.0.1', port }, () => {});
      try {
        assert.deepEqual([a.port, b.port], [port, port]);
        assert.equal(typeof a.fd, 'number');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('without it the second bind is refused with EADDRINUSE', async () => {
      const port = await deadUdpPort();
      const plane = createBunUdpDataPlane();
      const a = await plane.bind({ host: '127.0.0.1', port }, () => {});
      try {
        await assert.rejects(plane.bind({ host: '127.0.0.1', port }, () => {}), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
      } finally {
        await a.close();
      }
    });
  });
} else {
  describe('Bun-native UdpDataPlane', () => {
    it('passes the shared UdpDataPlane contract and its own cases under bun test', { timeout: 120_000 }, async () => {
      const r = await runUnderBun('test/runtime/udp/bun.test.ts', 100_000);
      assert.equal(r.fail, 0, r.output);
      assert.equal(r.pass + r.skip, countCases('test/runtime/udp/plane.cases.ts') + OWN_CASES, r.output);
      assert.ok(r.pass > 0, r.output);
      assert.equal(r.code, 0, r.output);
    });
  });
}
