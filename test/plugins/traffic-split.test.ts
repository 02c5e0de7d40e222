// traffic-split: APISIX's schema and checks (vars expressions, inline upstreams), the weighted choice (smooth
// weighted round robin, weights 9:1 -> nine of ten to the first), match rules on stream variables, the
// route's own upstream as a choice, and a missing upstream_id.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trafficSplit } from '../../src/plugins/traffic-split';
import { compileUpstream } from '../../src/snapshot/build';
import type { CompiledUpstream } from '../../src/snapshot/types';
import { testConn } from './conn';
import { runConfTable, testContext } from './plugin.cases';

const UP = { type: 'roundrobin', nodes: { '127.0.0.1:1995': 1 } };

function upstream(key: string, port: number): CompiledUpstream {
  return compileUpstream(key, { nodes: { [`127.0.0.1:${port}`]: 1 } }).upstream!;
}

describe('traffic-split: schema', () => {
  const rule = (r: Record<string, unknown>) => ({ rules: [r] });
  runConfTable('traffic-split', [
    ['empty', {}, null],
    ['traffic-split.t TEST 1: two inline upstreams 9:1', rule({ weighted_upstreams: [{ upstream: { ...UP, name: 'upstream_A' }, weight: 9 }, { upstream: UP, weight: 1 }] }), null],
    ['traffic-split.t TEST 3: weight only = the route upstream', rule({ weighted_upstreams: [{ upstream: UP, weight: 9 }, { weight: 1 }] }), null],
    ['traffic-split.t TEST 7: match route_id', rule({ match: [{ vars: [['route_id', '==', '3']] }], weighted_upstreams: [{ upstream: UP, weight: 1 }] }), null],
    ['upstream_id', rule({ weighted_upstreams: [{ upstream_id: '2', weight: 1 }] }), null],
    ['bad vars', rule({ match: [{ vars: [['route_id', '=', '3']] }] }), "failed to validate the 'vars' expression: invalid operator '='"],
    ['match without vars', rule({ match: [{}] }), "failed to validate the 'vars' expression: missing argument rule"],
    ['vars not a list', rule({ match: [{ vars: 'x' }] }), 'property "rules" validation failed: failed to validate item 1: property "match" validation failed: failed to validate item 1: property "vars" validation failed: wrong type: expected array, got string'],
    ['weight -1', rule({ weighted_upstreams: [{ weight: -1 }] }), 'property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: failed to validate item 1: property "weight" validation failed: expected -1 to be at least 0'],
    ['no weighted upstreams', rule({ weighted_upstreams: [] }), 'property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: expect array to have at least 1 items'],
    ['21 weighted upstreams', rule({ weighted_upstreams: Array.from({ length: 21 }, () => ({ weight: 1 })) }), 'property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: expect array to have at most 20 items'],
    ['inline upstream without nodes', rule({ weighted_upstreams: [{ upstream: { type: 'roundrobin' } }] }), 'property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: failed to validate item 1: property "upstream" validation failed: value should match only one schema, but matches none'],
    ['inline upstream with a bare IPv6 node', rule({ weighted_upstreams: [{ upstream: { nodes: { '::1:80': 1 } } }] }), `property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: failed to validate item 1: property "upstream" validation failed: invalid configuration: IPv6 address must be enclosed with '[' and ']'`],
    ['bad upstream_id', rule({ weighted_upstreams: [{ upstream_id: '*x' }] }), 'property "rules" validation failed: failed to validate item 1: property "weighted_upstreams" validation failed: failed to validate item 1: property "upstream_id" validation failed: object matches none of the required'],
  ]);
});

describe('traffic-split: choice', () => {
  const a = upstream('/apisix/upstreams/a', 1995);
  const b = upstream('/apisix/upstreams/b', 1996);

  it('weights 9:1 send nine of ten connections to the first, in smooth order', () => {
    const ctx = testContext({ a, b });
    const f = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'a', weight: 9 }, { upstream_id: 'b', weight: 1 }] }] }, ctx);
    const picks = Array.from({ length: 10 }, () => {
      const c = testConn();
      assert.equal(f.access!(c), undefined);
      return c.upstream === a ? 'a' : c.upstream === b ? 'b' : 'route';
    });
    // smooth weighted round robin, 9:1  ->  a a a a a b a a a a
    assert.deepEqual(picks, ['a', 'a', 'a', 'a', 'a', 'b', 'a', 'a', 'a', 'a']);
    assert.equal(f.setsUpstream, true);
  });

  it('an entry with only a weight is the route upstream (nothing set)', () => {
    const f = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'a', weight: 1 }, { weight: 1 }] }] }, testContext({ a }));
    const ups = [1, 2, 3, 4].map(() => {
      const c = testConn();
      f.access!(c);
      return c.upstream === null ? 'route' : 'a';
    });
    assert.deepEqual(ups, ['a', 'route', 'a', 'route']);
  });

  it('the first rule whose match holds wins; no match leaves the route upstream', () => {
    const f = trafficSplit.compile({
      rules: [
        { match: [{ vars: [['server_port', '==', 9101]] }, { vars: [['remote_addr', 'ipmatch', ['10.0.0.0/8']]] }], weighted_upstreams: [{ upstream_id: 'a' }] },
        { match: [{ vars: [['remote_addr', '==', '192.0.2.1']] }], weighted_upstreams: [{ upstream_id: 'b' }] },
      ],
    }, testContext({ a, b }));
    const pick = (info: Parameters<typeof testConn>[0]): string => {
      const c = testConn(info);
      f.access!(c);
      return c.upstream === a ? 'a' : c.upstream === b ? 'b' : 'route';
    };
    assert.equal(pick({ serverPort: 9101 }), 'a');
    assert.equal(pick({ remoteAddr: '10.2.3.4' }), 'a');
    assert.equal(pick({ remoteAddr: '192.0.2.1' }), 'b');
    assert.equal(pick({ remoteAddr: '192.0.2.2' }), 'route');
  });

  it('a rule without weighted_upstreams keeps the route upstream (APISIX default [{weight: 1}])', () => {
    const f = trafficSplit.compile({ rules: [{}] }, testContext());
    const c = testConn();
    assert.equal(f.access!(c), undefined);
    assert.equal(c.upstream, null);
  });

  it('an upstream_id that is gone refuses the connections that would go there (500), and the build says why', () => {
    const ctx = testContext({ a });
    const f = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'gone', weight: 1 }] }] }, ctx);
    assert.deepEqual(f.access!(testConn()), { code: 500, reason: 'traffic-split: failed to fetch upstream info by upstream id: gone' });
    assert.deepEqual(ctx.problems, ['traffic-split: upstream gone not found or cannot forward']);
  });

  it('all weights 0: nothing chosen, the route upstream serves', () => {
    const f = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'a', weight: 0 }] }] }, testContext({ a }));
    const c = testConn();
    assert.equal(f.access!(c), undefined);
    assert.equal(c.upstream, null);
  });
});

describe('traffic-split: explain', () => {
  const a = upstream('/apisix/upstreams/a', 1995);
  const b = upstream('/apisix/upstreams/b', 1996);

  it('names the next pick without moving the round robin; the connections then go there', () => {
    const f = trafficSplit.compile({ rules: [{ match: [{ vars: [['remote_addr', '==', '10.0.0.1']] }], weighted_upstreams: [{ upstream_id: 'a', weight: 2 }, { upstream_id: 'b', weight: 1 }] }] }, testContext({ a, b }));
    const conn = testConn({ remoteAddr: '10.0.0.1' });
    // smooth weighted round robin, a:2 b:1  ->  a b a
    for (const want of ['a', 'b', 'a']) {
      const e1 = f.explain!(conn);
      const e2 = f.explain!(conn);
      assert.deepEqual(e2, e1, 'explaining twice changes nothing');
      assert.deepEqual([e1.admits, e1.reason, e1.facts], [true, `rule 1 matches and picks upstream ${want} (weight ${want === 'a' ? 2 : 1} of 3)`, { rule: 1, upstream: `upstream ${want}` }]);
      assert.equal(e1.upstream, want === 'a' ? a : b);
      const c = testConn({ remoteAddr: '10.0.0.1' });
      f.access!(c);
      assert.equal(c.upstream, e1.upstream);
    }
    assert.deepEqual(f.explain!(testConn({ remoteAddr: '10.0.0.2' })), { admits: true, reason: "no rule matches: the route's upstream", facts: { rule: null, upstream: null } });
  });

  it("the route's own upstream, all weights 0, and a missing upstream_id (refused with 500)", () => {
    const own = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ weight: 1 }] }] }, testContext());
    assert.equal(own.explain!(testConn()).reason, "rule 1 matches and picks the route's upstream (weight 1 of 1)");
    const zero = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'a', weight: 0 }] }] }, testContext({ a }));
    assert.equal(zero.explain!(testConn()).reason, "rule 1 matches; every weight is 0: the route's upstream");
    const gone = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'gone', weight: 1 }] }] }, testContext());
    assert.deepEqual(gone.explain!(testConn()), { admits: false, reason: 'rule 1 matches and picks upstream gone (weight 1 of 1), which cannot be fetched (500)', facts: { rule: 1, upstream: 'gone' } });
  });

  it('lists the upstreams it may choose (their nodes keep their metrics)', () => {
    const f = trafficSplit.compile({ rules: [{ weighted_upstreams: [{ upstream_id: 'a' }, { weight: 1 }] }, { weighted_upstreams: [{ upstream_id: 'b' }] }] }, testContext({ a, b }));
    assert.deepEqual(f.upstreams, [a, b]);
  });
});
