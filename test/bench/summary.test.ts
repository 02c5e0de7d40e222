// The benchmark's summary: issue 7's bar is read from the paired ratio, so it is checked on known samples.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderTables, type Sample, summarize } from '../../bench/summary';

/** One sample per (rep, target) of the `bulk1` workload with the given Gbit/s. */
function bulk(rows: Array<[rep: number, target: string, gbps: number]>): Sample[] {
  return rows.map(([rep, target, gbps]) => ({ rep, workload: 'bulk1', target, metrics: { gbps } }));
}

describe('bench summary', () => {
  it('pairs weir with bunnative per repetition, and keeps the ratio of medians beside it', () => {
    // slow spells: rep 2 hits both targets, rep 3 only weir's sample, rep 4 only bunnative's
    const samples = bulk([
      [1, 'bunnative', 16], [1, 'weir', 15.5],
      [2, 'bunnative', 9], [2, 'weir', 8.8],
      [3, 'bunnative', 18], [3, 'weir', 10],
      [4, 'bunnative', 10], [4, 'weir', 9.8],
      [5, 'bunnative', 17], [5, 'weir', 16.6],
    ]);
    const cell = summarize(samples, ['bunnative', 'weir']).bulk1!.weir!;
    // per rep: 0.969 0.978 0.556 0.98 0.976 -> median 0.976
    assert.equal(cell.paired_vs_bunnative, 0.98);
    // medians: weir 10, bunnative 16 -> 0.625
    assert.equal(cell.vs_bunnative, 0.63);
    assert.equal(cell.median.gbps, 10);
    const table = renderTables(summarize(samples, ['bunnative', 'weir']), ['bunnative', 'weir'], null);
    assert.match(table, /\*\*0\.98× bunnative\*\* \(ratio of medians 0\.63×\)/);
  });

  it('uses only repetitions where both targets have a result', () => {
    const samples: Sample[] = [
      ...bulk([[1, 'bunnative', 10], [1, 'weir', 5], [2, 'weir', 100], [3, 'bunnative', 10], [3, 'weir', 9]]),
      { rep: 2, workload: 'bulk1', target: 'bunnative', error: 'proxy died' },
    ];
    // reps 1 and 3 pair (0.5, 0.9): median 0.7; rep 2 has no bunnative sample and is left out
    assert.equal(summarize(samples, ['bunnative', 'weir']).bulk1!.weir!.paired_vs_bunnative, 0.7);
  });

  it('has no paired ratio without the reference target', () => {
    const cell = summarize(bulk([[1, 'weir', 5]]), ['weir']).bulk1!.weir!;
    assert.equal(cell.paired_vs_bunnative, null);
    assert.equal(cell.vs_bunnative, null);
  });
});

describe('bench summary: the PROXY protocol rows', () => {
  it('pairs each target\'s ppconn with its own pconn per repetition (issue 14\'s bar)', () => {
    const samples: Sample[] = [
      [1, 'pconn', 10000], [1, 'ppconn', 9800],
      [2, 'pconn', 8000], [2, 'ppconn', 7900],
      [3, 'pconn', 12000], [3, 'ppconn', 9000], // a slow spell during one ppconn sample
    ].map(([rep, workload, rps]) => ({ rep: rep as number, workload: workload as Sample['workload'], target: 'weir', metrics: { rps: rps as number } }));
    const res = summarize(samples, ['weir']);
    // per rep: 0.98 0.9875 0.75 -> median 0.98
    assert.equal(res.ppconn!.weir!.paired_vs_plain, 0.98);
    assert.equal(res.pconn!.weir!.paired_vs_plain, null);
    // medians: 10000 and 9000 (the ratio of medians would say 0.9)
    assert.match(renderTables(res, ['weir'], null), /\| ppconn \| 9000 conn\/s · \*\*0\.98× pconn\*\* \|/);
  });
});

describe('bench summary: weirp (plugins on the route)', () => {
  it('pairs weirp with plain weir per repetition', () => {
    const samples: Sample[] = [
      [1, 'weir', 100], [1, 'weirp', 97], [2, 'weir', 80], [2, 'weirp', 79], [3, 'weir', 90], [3, 'weirp', 60],
    ].map(([rep, target, rps]) => ({ rep: rep as number, workload: 'conn', target: target as string, metrics: { rps: rps as number } }));
    const res = summarize(samples, ['weir', 'weirp']);
    // per rep: 0.97 0.9875 0.667 -> median 0.97
    assert.equal(res.conn!.weirp!.paired_vs_weir, 0.97);
    assert.equal(res.conn!.weir!.paired_vs_weir, null);
    assert.match(renderTables(res, ['weir', 'weirp'], null), /\*\*0\.97× weir\*\*/);
  });
});
