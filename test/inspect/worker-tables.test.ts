// Merging the workers' connection rows (pure): order by pid then counter, totals, a scoped key's filter, pages
// across workers, how many rows each worker must send for a page, and ids grouped by worker for ending them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { answerCount, answerEnd, answerRows, idsByPid, mergeParts, rowLimit, withUnanswered, type RowsPart } from '../../src/inspect/worker-tables';

const row = (pid: number, n: number, route: string | null) => ({ id: `${pid}-${n}`, route });
const part = (pid: number, rows: Array<[number, string | null]>, total = rows.length): RowsPart => ({ pid, total, rows: rows.map(([n, r]) => row(pid, n, r)) });
const ids = (m: { list: Array<{ id?: unknown }> }) => m.list.map((r) => r.id);

describe('mergeParts', () => {
  // worker pids 300 (worker 0), 200 and 100; each sends its rows by counter
  const parts = [part(300, [[1, 'a'], [4, 'b']]), part(100, [[2, 'b'], [9, null]]), part(200, [])];

  it('orders by pid, then counter; total is the sum', () => {
    assert.deepEqual(mergeParts(parts, null, null), { total: 4, list: [row(100, 2, 'b'), row(100, 9, null), row(300, 1, 'a'), row(300, 4, 'b')] });
  });

  it('pages across workers', () => {
    //  100-2 100-9 | 300-1 300-4 | (empty)
    assert.deepEqual([1, 2, 3].map((page) => ids(mergeParts(parts, null, { page, size: 2 }))), [['100-2', '100-9'], ['300-1', '300-4'], []]);
    assert.deepEqual(ids(mergeParts(parts, null, { page: 2, size: 3 })), ['300-4']);
  });

  it('a scoped key: only rows on routes it sees, counted after the filter', () => {
    const sees = (route: string | null) => route === 'b';
    assert.deepEqual(mergeParts(parts, sees, null), { total: 2, list: [row(100, 2, 'b'), row(300, 4, 'b')] });
    assert.deepEqual(mergeParts(parts, sees, { page: 2, size: 1 }), { total: 2, list: [row(300, 4, 'b')] });
  });

  it('with limits: the workers\' totals count every row, the page comes from the rows sent', () => {
    // each sent page * size = 2 of its 5 rows
    const limited = [part(7, [[1, 'a'], [2, 'a']], 5), part(5, [[1, 'a'], [3, 'a']], 5)];
    assert.deepEqual(mergeParts(limited, null, { page: 1, size: 2 }), { total: 10, list: [row(5, 1, 'a'), row(5, 3, 'a')] });
  });
});

describe('rowLimit', () => {
  it('page * size unscoped; everything when scoped or unpaged', () => {
    assert.deepEqual([rowLimit({ page: 3, size: 50 }, false), rowLimit({ page: 3, size: 50 }, true), rowLimit(null, false)], [150, null, null]);
  });
});

describe('idsByPid', () => {
  it('groups the shown ids by worker, skipping anything else', () => {
    assert.deepEqual([...idsByPid([{ id: '7-1' }, { id: '5-2' }, { id: '7-3' }, { id: 'x' }, { id: 4 }])], [[7, [1, 3]], [5, [2]]]);
  });
});

describe('answering another worker', () => {
  const none = { tcp: null, udp: null };
  it('answers from its own tables with its pid', () => {
    assert.deepEqual(answerRows(none, { table: 'tcp', query: 'route=a', limit: 10 }, 42), { pid: 42, total: 0, rows: [] });
    assert.deepEqual(answerEnd(none, { table: 'udp', ids: [1, 2] }, 42), { pid: 42, ended: [] });
    assert.deepEqual(answerCount(none, { routes: ['a'], upstreamKeys: ['/apisix/upstreams/u'] }, 42), { pid: 42, byRoute: {} });
  });
  it('refuses a malformed question (the channel then answers null)', () => {
    for (const q of [null, {}, { table: 'sctp', query: '', limit: null }, { table: 'tcp', query: '', limit: -1 }, { table: 'tcp', query: 'client=nope', limit: null }, { table: 'tcp', query: '', limit: null, ids: [0] }]) {
      assert.throws(() => answerRows(none, q), JSON.stringify(q));
    }
    assert.throws(() => answerEnd(none, { table: 'tcp', ids: ['1'] }));
    for (const q of [null, {}, { routes: ['a'] }, { routes: 'a', upstreamKeys: [] }, { routes: [], upstreamKeys: [1] }]) {
      assert.throws(() => answerCount(none, q), JSON.stringify(q));
    }
  });
});

describe('withUnanswered', () => {
  it('names each silent worker once, with the wait it got; nothing is added when all answered', () => {
    const body = { total: 0 };
    assert.equal(withUnanswered(body, []), body);
    assert.deepEqual(withUnanswered(body, [{ worker: 2, pid: 9 }, { worker: 1, pid: 8 }, { worker: 2, pid: 9 }]), {
      total: 0,
      unanswered_workers: [{ worker: 2, pid: 9, waited_ms: 2000 }, { worker: 1, pid: 8, waited_ms: 2000 }],
    });
  });
});
