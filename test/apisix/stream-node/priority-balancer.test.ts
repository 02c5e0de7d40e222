// APISIX t/stream-node/priority-balancer.t against weir (table: test/apisix/README.md). APISIX reads its
// routes from apisix.yaml (standalone); here the same YAML's stream_routes go through the Admin API. The
// try order APISIX greps ("proxy request to ...") is weir's "connect() failed ... node=" lines, then the
// node the access log names.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ADMIN, Harness } from '../harness';
import { freePort } from '../../helpers/net';

describe('t/stream-node/priority-balancer.t', () => {
  let h: Harness;
  let dead: number;
  before(async () => {
    dead = await freePort(); // APISIX's 1979: nothing listens there, on any of 127.0.0.1-4
    h = await Harness.start({}, { 1979: dead });
  });
  after(() => h.close());

  /** Load an apisix_yaml block's stream_routes, as APISIX's standalone mode would. */
  const load = async (apisixYaml: string) => {
    const { stream_routes: routes } = parse(apisixYaml) as { stream_routes: { id: number; upstream: unknown }[] };
    for (const { id, upstream } of routes) await h.ok(`${ADMIN}/stream_routes/${id}`, 'PUT', { upstream });
  };
  /** repeat_each(2): two connections, each answered by 127.0.0.1:1995 after trying `failed` in that order. */
  const tries = async (failed: string[]) => {
    for (let i = 0; i < 2; i++) {
      const logged = h.w.access.length;
      const lines = h.logs.length;
      assert.equal((await h.stream()).data, 'hello world\n');
      const [record] = await h.accessSince(logged);
      const refused = h.logs.slice(lines).flatMap((l) => (/ connect\(\) failed .*node=(\S+)/.exec(l) ?? []).slice(1));
      assert.deepEqual([...refused, record!.upstream], [...failed.map((a) => h.localize(a)), h.localize('127.0.0.1:1995')]);
    }
  };
  const PRIORITIES = ['127.0.0.1:1979', '127.0.0.2:1979', '127.0.0.3:1979', '127.0.0.4:1979'];

  it('TEST 1: sanity', async () => {
    await load(h.localize(`
stream_routes:
  - id: 1
    upstream:
        type: least_conn
        nodes:
        - host: 127.0.0.1
          port: 1979
          weight: 2
          priority: 1
        - host: 127.0.0.2
          port: 1979
          weight: 1
          priority: 1
        - host: 127.0.0.3
          port: 1979
          weight: 2
          priority: 0
        - host: 127.0.0.4
          port: 1979
          weight: 1
          priority: 0
        - host: 127.0.0.1
          port: 1995
          weight: 2
          priority: -1
`));
    await tries(PRIORITIES);
  });

  it('TEST 2: default priority is 0', async () => {
    await load(h.localize(`
stream_routes:
  - id: 1
    upstream:
        type: least_conn
        nodes:
        - host: 127.0.0.1
          port: 1979
          weight: 2
          priority: 1
        - host: 127.0.0.2
          port: 1979
          weight: 1
          priority: 1
        - host: 127.0.0.3
          port: 1979
          weight: 2
        - host: 127.0.0.4
          port: 1979
          weight: 1
        - host: 127.0.0.1
          port: 1995
          weight: 2
          priority: -1
`));
    await tries(PRIORITIES);
  });

  it('TEST 3: fix priority for nonarray nodes', async () => {
    await load(h.localize(`
stream_routes:
  - id: 1
    upstream:
        type: roundrobin
        nodes:
            "127.0.0.1:1995": 1
            "127.0.0.2:1995": 1
`));
    const before = { ...h.hello.accepted };
    for (let i = 0; i < 2; i++) assert.equal((await h.stream()).data, 'hello world\n');
    assert.deepEqual(h.hits(before), { '127.0.0.1': 1, '127.0.0.2': 1 });
  });
});
