// The filter chain: priority order, first rejection wins, asynchronous verdicts, failing filters.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildChain, runAccess, runLog } from '../../../src/proxy/filter/chain';
import { type AccessVerdict, type FilterConn, type FinishedConn, NO_FILTERS, type StreamFilter } from '../../../src/proxy/filter/types';
import { configureErrorLog } from '../../../src/log/logger';

const conn = { info: { protocol: 'tcp', remoteAddr: '10.0.0.1', remotePort: 1, serverAddr: '127.0.0.1', serverPort: 9100, sni: null }, route: {} } as unknown as FilterConn;

function filter(name: string, priority: number, calls: string[], verdict?: () => AccessVerdict | Promise<AccessVerdict>): StreamFilter {
  return {
    name,
    priority,
    access: () => {
      calls.push(name);
      return verdict?.();
    },
    log: () => void calls.push(`log:${name}`),
  };
}

/** Runs the access phase and reports the verdict and how many times `done` was called. */
function access(chain: ReturnType<typeof buildChain>): Promise<{ verdict: AccessVerdict; calls: number; sync: boolean }> {
  return new Promise((resolve) => {
    let calls = 0;
    let returned = false;
    runAccess(chain, conn, (verdict) => {
      calls++;
      const sync = !returned;
      // a second call would be a bug: give it a moment to show up
      setTimeout(() => resolve({ verdict, calls, sync }), 20);
    });
    returned = true;
  });
}

describe('buildChain', () => {
  it('no filters: the shared empty chain', () => {
    assert.equal(buildChain([]), NO_FILTERS);
    assert.equal(NO_FILTERS.access.length + NO_FILTERS.log.length, 0);
    assert.ok(Object.isFrozen(NO_FILTERS) && Object.isFrozen(NO_FILTERS.access));
  });
  it('orders by priority, higher first, ties by name', () => {
    const calls: string[] = [];
    const chain = buildChain([filter('b', 1000, calls), filter('z', 3000, calls), filter('a', 1000, calls)]);
    assert.deepEqual(chain.access.map((f) => f.name), ['z', 'a', 'b']);
    assert.deepEqual(chain.log.map((f) => f.name), ['z', 'a', 'b']);
  });
  it('a filter without a hook for a phase is not in that phase', () => {
    const only: StreamFilter = { name: 'logger', priority: 1, log: () => {} };
    const chain = buildChain([only]);
    assert.deepEqual([chain.access.length, chain.log.length], [0, 1]);
  });
});

describe('runAccess', () => {
  it('every filter admits: done(undefined) once, synchronously, after all ran in order', async () => {
    const calls: string[] = [];
    const r = await access(buildChain([filter('low', 1, calls), filter('high', 2, calls)]));
    assert.deepEqual(r, { verdict: undefined, calls: 1, sync: true });
    assert.deepEqual(calls, ['high', 'low']);
  });
  it('the first rejection wins and the rest do not run', async () => {
    const calls: string[] = [];
    const chain = buildChain([filter('deny', 2, calls, () => ({ code: 403, reason: 'denied' })), filter('after', 1, calls)]);
    const r = await access(chain);
    assert.deepEqual(r, { verdict: { code: 403, reason: 'denied' }, calls: 1, sync: true });
    assert.deepEqual(calls, ['deny']);
  });
  it('a promise resumes the chain with the next filter', async () => {
    const calls: string[] = [];
    const later = () => new Promise<AccessVerdict>((r) => setTimeout(() => r(undefined), 5));
    const r = await access(buildChain([filter('wait', 2, calls, later), filter('next', 1, calls, () => ({ code: 503, reason: 'full' }))]));
    assert.deepEqual(r, { verdict: { code: 503, reason: 'full' }, calls: 1, sync: false });
    assert.deepEqual(calls, ['wait', 'next']);
  });
  it('a throwing or rejecting filter refuses the connection with 500 and its message', async () => {
    configureErrorLog({ sink: () => {} });
    try {
      const calls: string[] = [];
      const boom = () => {
        throw new Error('boom');
      };
      assert.deepEqual((await access(buildChain([filter('bad', 1, calls, boom)]))).verdict, { code: 500, reason: 'bad: boom' });
      const fails = () => Promise.reject(new Error('later'));
      assert.deepEqual((await access(buildChain([filter('bad', 1, calls, fails)]))).verdict, { code: 500, reason: 'bad: later' });
    } finally {
      configureErrorLog({ sink: (text) => process.stderr.write(text) });
    }
  });
});

describe('runLog', () => {
  it('runs every log hook in order, even after one throws', () => {
    configureErrorLog({ sink: () => {} });
    try {
      const calls: string[] = [];
      const bad: StreamFilter = { name: 'bad', priority: 5, log: () => { throw new Error('x'); } };
      runLog(buildChain([filter('a', 1, calls), bad, filter('b', 9, calls)]), {} as FinishedConn);
      assert.deepEqual(calls, ['log:b', 'log:a']);
    } finally {
      configureErrorLog({ sink: (text) => process.stderr.write(text) });
    }
  });
});
