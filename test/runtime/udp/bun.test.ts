// Runs the shared UdpDataPlane contract against the Bun.udpSocket implementation. Under Bun (`bun test`) the
// cases run here directly; under node (npm test) this file runs itself with `bun test` and checks the outcome.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectRuntime } from '../../../src/runtime/index';
import { createBunUdpDataPlane } from '../../../src/runtime/udp/bun';
import { runUdpDataPlaneContract } from './plane.cases';
import { countCases, runUnderBun } from '../../helpers/bun';

if (detectRuntime() === 'bun') {
  runUdpDataPlaneContract(() => createBunUdpDataPlane());
} else {
  describe('Bun-native UdpDataPlane', () => {
    it('passes the shared UdpDataPlane contract under bun test', { timeout: 120_000 }, async () => {
      const r = await runUnderBun('test/runtime/udp/bun.test.ts', 100_000);
      assert.equal(r.fail, 0, r.output);
      assert.equal(r.pass + r.skip, countCases('test/runtime/udp/plane.cases.ts'), r.output);
      assert.ok(r.pass > 0, r.output);
      assert.equal(r.code, 0, r.output);
    });
  });
}
