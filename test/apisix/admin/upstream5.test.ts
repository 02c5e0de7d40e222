// APISIX t/admin/upstream5.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/upstream5.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  // [weir] deliberate difference from TEST 1-3: APISIX stores any balancer name ("none" for kafka) and
  // fails at the first connection; weir refuses a type it has no balancer for, when the upstream is written.
  const kafka = (tls: string) => `{
    "nodes": {"127.0.0.1:9092": 1},
    "type": "none",
    "scheme": "kafka"${tls}
  }`;
  const NO_BALANCER = { error_msg: 'invalid configuration: property "type" validation failed: unknown balancer none' };

  it('TEST 1: set upstream(kafka scheme) (differs: 400 for type none)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/kafka`, 'PUT', kafka(''));
    assert.deepEqual([r.status, r.body], [400, NO_BALANCER]);
  });

  it('TEST 2: set upstream(empty tls) (differs: 400 for type none)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/kafka`, 'PUT', kafka(',\n"tls": {}'));
    assert.deepEqual([r.status, r.body], [400, NO_BALANCER]);
  });

  it('TEST 3: set upstream(tls without verify) (differs: 400 for type none)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/kafka`, 'PUT', kafka(',\n"tls": {"verify": false}'));
    assert.deepEqual([r.status, r.body], [400, NO_BALANCER]);
  });

  it('TEST 4: prepare upstream', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}');
  });

  // TEST 5-22 (traffic-split, services, global rules, plugin configs, consumers): see the README.

  it('TEST 23: delete upstream', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/1`, 'DELETE')).status, 200);
  });
});
