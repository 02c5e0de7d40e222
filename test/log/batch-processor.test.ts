// The logger plugins' batch processor: what triggers a send (batch_max_size, inactive_timeout,
// buffer_duration, flush), retries then drops, one batch in flight in order, and the bound on everything
// waiting (drop_limit): beyond it entries are dropped and counted, never queued; drain() (the plugin's dispose)
// sends everything at once and resolves when nothing waits.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type BatchOptions, BatchProcessor } from '../../src/log/batch-processor';
import { until, wait } from '../helpers/udp';

const OPTS: BatchOptions = { batchMaxSize: 3, inactiveTimeoutMs: 40, bufferDurationMs: 1000, maxRetryCount: 0, retryDelayMs: 10, maxPendingBytes: 1000 };

/** A sender that records batches; `gate` (when set) holds each send until released. */
function recorder(fail = 0) {
  const batches: string[][] = [];
  let failures = fail;
  const drops: Array<[number, string]> = [];
  let release: (() => void) | null = null;
  let holding = false;
  return {
    batches,
    drops,
    hold() {
      holding = true;
    },
    /** Let the batch in flight through (later ones are held too while holding). */
    release() {
      const r = release;
      release = null;
      r?.();
    },
    unhold() {
      holding = false;
      this.release();
    },
    send: (entries: string[]): Promise<void> => {
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('server down'));
      }
      batches.push([...entries]);
      if (!holding) return Promise.resolve();
      return new Promise<void>((r) => (release = r));
    },
    hooks: { dropped: (n: number, why: string) => void drops.push([n, why]) },
  };
}

describe('batch processor', () => {
  it('sends a batch as soon as batch_max_size entries are in', async () => {
    const r = recorder();
    const p = new BatchProcessor(OPTS, r.send, r.hooks);
    for (const e of ['a', 'b', 'c', 'd']) assert.equal(p.push(e), true);
    await wait(0);
    assert.deepEqual(r.batches, [['a', 'b', 'c']]);
    assert.equal(p.pendingBytes, 1, '"d" still waits');
  });

  it('sends a partial batch after inactive_timeout without new entries', async () => {
    const r = recorder();
    const p = new BatchProcessor(OPTS, r.send, r.hooks);
    p.push('a');
    await wait(15);
    p.push('b');
    await wait(20);
    assert.deepEqual(r.batches, [], 'the second entry restarted the idle wait');
    await until(() => r.batches.length === 1, 500);
    assert.deepEqual(r.batches, [['a', 'b']]);
    assert.equal(p.pendingBytes, 0);
    assert.deepEqual(p.stats, { sent: 2, dropped: 0, batches: 1, failures: 0 });
  });

  it('sends after buffer_duration even while entries keep coming', async () => {
    const r = recorder();
    const p = new BatchProcessor({ ...OPTS, batchMaxSize: 1000, inactiveTimeoutMs: 50, bufferDurationMs: 120 }, r.send, r.hooks);
    const started = Date.now();
    while (r.batches.length === 0 && Date.now() - started < 1000) {
      p.push('x');
      await wait(10);
    }
    const took = Date.now() - started;
    assert.ok(took >= 110 && took < 400, `first batch after ${took} ms`);
  });

  it('flush() sends what is collected now', async () => {
    const r = recorder();
    const p = new BatchProcessor(OPTS, r.send, r.hooks);
    p.push('a');
    p.flush();
    await wait(0);
    assert.deepEqual(r.batches, [['a']]);
  });

  it('retries a failed batch max_retry_count times, retry_delay apart, then succeeds', async () => {
    const r = recorder(2);
    const p = new BatchProcessor({ ...OPTS, maxRetryCount: 2 }, r.send, r.hooks);
    for (const e of ['a', 'b', 'c']) p.push(e);
    await until(() => r.batches.length === 1, 10_000);
    assert.deepEqual(r.batches, [['a', 'b', 'c']]);
    assert.deepEqual(p.stats, { sent: 3, dropped: 0, batches: 3, failures: 2 });
    assert.deepEqual(r.drops, []);
  });

  it('drops a batch whose retries ran out, and counts it', async () => {
    const r = recorder(5);
    const p = new BatchProcessor({ ...OPTS, maxRetryCount: 1 }, r.send, r.hooks);
    for (const e of ['a', 'b', 'c']) p.push(e);
    await until(() => r.drops.length === 1, 10_000);
    assert.deepEqual(r.drops, [[3, 'failed']]);
    assert.equal(p.pendingBytes, 0);
    assert.deepEqual(p.stats, { sent: 0, dropped: 3, batches: 2, failures: 2 });
  });

  it('one batch in flight at a time, in order', async () => {
    const r = recorder();
    r.hold();
    const p = new BatchProcessor(OPTS, r.send, r.hooks);
    for (const e of ['1', '2', '3', '4', '5', '6', '7', '8', '9']) p.push(e);
    await wait(0);
    assert.deepEqual(r.batches, [['1', '2', '3']]);
    r.release();
    await wait(0);
    assert.deepEqual(r.batches, [['1', '2', '3'], ['4', '5', '6']]);
    r.release();
    await wait(0);
    assert.deepEqual(r.batches, [['1', '2', '3'], ['4', '5', '6'], ['7', '8', '9']]);
    r.unhold();
  });

  it('a stuck server: entries beyond drop_limit are dropped and counted, memory stays at the bound', async () => {
    const r = recorder();
    r.hold(); // the server takes the first batch and never answers
    const p = new BatchProcessor({ ...OPTS, batchMaxSize: 10, maxPendingBytes: 100 }, r.send, r.hooks);
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) if (p.push('0123456789')) accepted++;
    assert.equal(accepted, 10, '100 characters of room');
    assert.equal(p.pendingBytes, 100);
    assert.equal(p.stats.dropped, 9_990);
    assert.equal(r.drops.length, 9_990);
    assert.deepEqual(r.drops[0], [1, 'full']);
    r.unhold();
    await until(() => p.pendingBytes === 0);
    assert.equal(p.push('again'), true, 'room again once the batch went out');
  });

  it('drain() sends the partial batch at once, resolves once it is out, and calls idle once', async () => {
    const r = recorder();
    r.hold();
    let idle = 0;
    const p = new BatchProcessor({ ...OPTS, inactiveTimeoutMs: 60_000 }, r.send, { ...r.hooks, idle: () => void idle++ });
    for (const e of ['a', 'b', 'c', 'd']) p.push(e);
    let drained = false;
    const done = p.drain().then(() => void (drained = true));
    await wait(0);
    assert.deepEqual(r.batches, [['a', 'b', 'c']], 'one batch in flight at a time');
    assert.equal(drained, false);
    r.release();
    await wait(0);
    assert.deepEqual(r.batches, [['a', 'b', 'c'], ['d']], 'the partial batch did not wait for inactive_timeout');
    assert.equal(drained, false, 'still in flight');
    r.unhold();
    await done;
    assert.equal(p.pendingBytes, 0);
    assert.equal(idle, 1);
  });

  it('after drain(), each entry goes without waiting for a timer (a connection that ends after its route changed)', async () => {
    const r = recorder();
    let idle = 0;
    const p = new BatchProcessor({ ...OPTS, inactiveTimeoutMs: 60_000 }, r.send, { ...r.hooks, idle: () => void idle++ });
    await p.drain();
    assert.equal(idle, 1, 'idle at once when nothing waits');
    p.push('late');
    await until(() => r.batches.length === 1);
    assert.deepEqual(r.batches, [['late']]);
    await until(() => idle === 2);
  });

  it('drain() with a failing server resolves after the retries, the batch dropped and counted', async () => {
    const r = recorder(5);
    const p = new BatchProcessor({ ...OPTS, maxRetryCount: 1, retryDelayMs: 1 }, r.send, r.hooks);
    p.push('x');
    // the retry timer does not hold the process (weir's shutdown holds its own deadline timer): neither may the test
    let drained = false;
    await Promise.race([p.drain().then(() => void (drained = true)), wait(2000)]);
    assert.equal(drained, true);
    assert.deepEqual(r.drops, [[1, 'failed']]);
    assert.equal(p.pendingBytes, 0);
  });
});
