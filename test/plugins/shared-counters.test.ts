// Host-wide limit-conn counts: worker 0 decides every acquire, so concurrent requests from several workers
// admit exactly `max`; a worker that goes away gives back what it held; a worker that loses worker 0 counts
// by itself. Both ends run in this process, joined by queued message delivery (like an IPC channel).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { CounterHost, RemoteConnCounters, type CounterMessage } from '../../src/plugins/shared-counters';

/** A worker joined to the host through asynchronous delivery both ways. */
function worker(host: CounterHost): { counters: RemoteConnCounters; gone(): void } {
  let remote!: RemoteConnCounters;
  const link = host.connect((msg) => setImmediate(() => remote.onMessage(msg)));
  remote = new RemoteConnCounters((msg: CounterMessage) => setImmediate(() => link.onMessage(msg)), new LocalConnCounters());
  return { counters: remote, gone: () => link.close() };
}

describe('LocalConnCounters', () => {
  it('counts in up to max, refuses beyond (0, not counted), counts out', () => {
    const c = new LocalConnCounters();
    assert.deepEqual([1, 2, 3].map(() => c.acquire('k', 2)), [1, 2, 0]);
    assert.equal(c.count('k'), 2);
    c.release('k');
    c.release('k');
    c.release('k'); // one too many: no negative counts
    assert.equal(c.count('k'), 0);
    assert.equal(c.size, 0);
  });
});

describe('shared counters (worker 0 and the others)', () => {
  it('200 concurrent acquires from four workers and worker 0 admit exactly max', async () => {
    const local = new LocalConnCounters();
    const host = new CounterHost(local);
    const workers = [1, 2, 3, 4].map(() => worker(host).counters);
    const asks: Array<number | Promise<number>> = [];
    for (let i = 0; i < 200; i++) asks.push(i % 5 === 0 ? local.acquire('k', 30) : workers[i % 4]!.acquire('k', 30));
    const counts = await Promise.all(asks);
    assert.equal(counts.filter((n) => n > 0).length, 30);
    assert.deepEqual(counts.filter((n) => n > 0).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(local.count('k'), 30);
  });

  it('releases reach worker 0; a worker that exits gives back what it still held', async () => {
    const local = new LocalConnCounters();
    const host = new CounterHost(local);
    const w = worker(host);
    assert.equal(await w.counters.acquire('k', 10), 1);
    assert.equal(await w.counters.acquire('k', 10), 2);
    w.counters.release('k');
    await new Promise((r) => setImmediate(r));
    assert.equal(local.count('k'), 1);
    w.gone();
    assert.equal(local.count('k'), 0);
  });

  it('a release for a key this worker never held is ignored (it cannot undercount another worker)', async () => {
    const local = new LocalConnCounters();
    const host = new CounterHost(local);
    const a = worker(host);
    const b = worker(host);
    assert.equal(await a.counters.acquire('k', 10), 1);
    b.counters.release('k');
    await new Promise((r) => setImmediate(r));
    assert.equal(local.count('k'), 1);
  });

  it('without worker 0, waiting and later acquires are decided locally, and released locally', async () => {
    const fallback = new LocalConnCounters();
    const sent: CounterMessage[] = [];
    const remote = new RemoteConnCounters((m) => void sent.push(m), fallback);
    const waiting = remote.acquire('k', 1);
    remote.close();
    assert.equal(await waiting, 1);
    assert.equal(remote.acquire('k', 1), 0);
    remote.release('k');
    assert.equal(fallback.count('k'), 0);
    assert.equal(sent.length, 1); // only the first acquire went out
  });
});
