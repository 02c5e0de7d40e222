// nginx_config.worker_processes: accepted values, precise errors, and the worker count weir runs with.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readWorkerProcesses } from '../../src/config/workers';
import { ConfigError } from '../../src/config/types';
import { resolveWorkerCount, isExtraWorker, udpListenersOf, UDP_SHARES_PORTS } from '../../src/cli/workers';
import { detectRuntime } from '../../src/runtime/index';

const PATH = 'nginx_config.worker_processes';

describe('readWorkerProcesses', () => {
  it('accepts auto, whole numbers and numeric strings; absent means 1', () => {
    assert.equal(readWorkerProcesses(undefined, PATH), 1);
    assert.equal(readWorkerProcesses(null, PATH), 1);
    assert.equal(readWorkerProcesses('auto', PATH), 'auto');
    assert.equal(readWorkerProcesses(4, PATH), 4);
    assert.equal(readWorkerProcesses('2', PATH), 2);
  });

  for (const bad of [0, -1, 1.5, 257, 'many', true, [2]]) {
    it(`rejects ${JSON.stringify(bad)} naming the key`, () => {
      assert.throws(
        () => readWorkerProcesses(bad, PATH),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${PATH}: ${JSON.stringify(bad)} is not "auto"`),
      );
    });
  }
});

describe('resolveWorkerCount', () => {
  it('runs one process unless asked for more', () => {
    assert.equal(resolveWorkerCount(undefined, 8), 1);
    assert.equal(resolveWorkerCount(1, 8), 1);
  });

  it('resolves auto to the core count on Bun, and to 1 where listeners cannot share a port', () => {
    const bun = detectRuntime() === 'bun';
    assert.equal(resolveWorkerCount('auto', 3), bun ? 3 : 1);
    assert.equal(resolveWorkerCount(2, 3), bun ? 2 : 1);
  });

  it('runs 1 when WEIR_DATA_PLANE=node puts Bun on node:net, which cannot share a port', () => {
    assert.equal(resolveWorkerCount(2, 3, { WEIR_DATA_PLANE: 'node' }), 1);
    assert.equal(resolveWorkerCount('auto', 4, { WEIR_DATA_PLANE: 'node' }), 1);
  });

  it('gives every worker the UDP listeners now that Bun.udpSocket shares ports (socket flags)', () => {
    assert.equal(UDP_SHARES_PORTS, true);
    assert.deepEqual(udpListenersOf(['a', 'b'], false), ['a', 'b']);
    assert.deepEqual(udpListenersOf(['a', 'b'], true), ['a', 'b']);
  });

  it('tells extra workers by their environment', () => {
    assert.equal(isExtraWorker({}), false);
    assert.equal(isExtraWorker({ WEIR_WORKER: '1' }), true);
  });
});
