// The Prometheus text format as weir writes it (escaping, histograms, sample order) and how several worker
// processes' families add up.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Family, isFamilyList, mergeFamilies, renderExposition } from '../../src/metrics/exposition';

const counter = (samples: Family['samples']): Family => ({ name: 'x_total', help: 'X.', type: 'counter', merge: 'sum', labelNames: ['route'], samples });

describe('exposition text', () => {
  it('HELP, TYPE, one line per sample sorted by labels; label values escaped', () => {
    const text = renderExposition([
      counter([
        { labels: ['b'], value: 2 },
        { labels: ['a "quoted" \\ back\nline'], value: 1 },
      ]),
      { name: 'up', help: 'Multi\nline \\ help.', type: 'gauge', merge: 'primary', labelNames: [], samples: [{ labels: [], value: 1 }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP x_total X.',
        '# TYPE x_total counter',
        'x_total{route="a \\"quoted\\" \\\\ back\\nline"} 1',
        'x_total{route="b"} 2',
        '# HELP up Multi\\nline \\\\ help.',
        '# TYPE up gauge',
        'up 1',
        '',
      ].join('\n'),
    );
  });

  it('histograms: cumulative buckets with le, +Inf, _sum and _count', () => {
    const text = renderExposition([
      { name: 'lat_seconds', help: 'L.', type: 'histogram', merge: 'sum', labelNames: ['node'], buckets: [0.001, 0.01], samples: [{ labels: ['n1'], value: 6, counts: [1, 3, 2], sum: 0.5 }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP lat_seconds L.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{node="n1",le="0.001"} 1',
        'lat_seconds_bucket{node="n1",le="0.01"} 4',
        'lat_seconds_bucket{node="n1",le="+Inf"} 6',
        'lat_seconds_sum{node="n1"} 0.5',
        'lat_seconds_count{node="n1"} 6',
        '',
      ].join('\n'),
    );
  });

  it('NaN and infinities in Prometheus spelling; a family without samples keeps its HELP and TYPE', () => {
    const text = renderExposition([{ name: 'g', help: 'G.', type: 'gauge', merge: 'sum', labelNames: ['k'], samples: [{ labels: ['a'], value: NaN }, { labels: ['b'], value: Infinity }, { labels: ['c'], value: -Infinity }] }, counter([])]);
    assert.equal(text, '# HELP g G.\n# TYPE g gauge\ng{k="a"} NaN\ng{k="b"} +Inf\ng{k="c"} -Inf\n# HELP x_total X.\n# TYPE x_total counter\n');
  });
});

describe('merging workers', () => {
  it("sums equal label sets, keeps the others, takes 'primary' families from the first list only", () => {
    const health = (v: number): Family => ({ name: 'h', help: 'H.', type: 'gauge', merge: 'primary', labelNames: ['n'], samples: [{ labels: ['x'], value: v }] });
    const hist = (c: number[], sum: number): Family => ({ name: 'l', help: 'L.', type: 'histogram', merge: 'sum', labelNames: [], buckets: [1], samples: [{ labels: [], value: c[0]! + c[1]!, counts: c, sum }] });
    const merged = mergeFamilies([
      [counter([{ labels: ['a'], value: 1 }, { labels: ['b'], value: 5 }]), health(1), hist([1, 0], 0.5)],
      [counter([{ labels: ['a'], value: 2 }, { labels: ['c'], value: 7 }]), health(0), hist([0, 2], 3)],
      [counter([{ labels: ['a'], value: 4 }])],
    ]);
    assert.deepEqual(merged, [
      counter([{ labels: ['a'], value: 7 }, { labels: ['b'], value: 5 }, { labels: ['c'], value: 7 }]),
      health(1),
      hist([1, 2], 3.5),
    ]);
  });

  it('sums duplicate label sets within one process too (two addresses of one wildcard listener)', () => {
    assert.deepEqual(mergeFamilies([[counter([{ labels: ['a'], value: 1 }, { labels: ['a'], value: 2 }])]]), [counter([{ labels: ['a'], value: 3 }])]);
  });

  it('does not change the lists it merges', () => {
    const a = [counter([{ labels: ['a'], value: 1 }])];
    const b = [counter([{ labels: ['a'], value: 2 }])];
    mergeFamilies([a, b]);
    assert.equal(a[0]!.samples[0]!.value, 1);
  });

  it('isFamilyList tells a worker answer from anything else', () => {
    assert.equal(isFamilyList([counter([])]), true);
    assert.equal(isFamilyList(null), false);
    assert.equal(isFamilyList([{ name: 1 }]), false);
    assert.equal(isFamilyList({}), false);
  });
});
