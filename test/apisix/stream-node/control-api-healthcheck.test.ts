// APISIX t/stream-node/control-api-healthcheck.t against weir (table: test/apisix/README.md). APISIX's
// control API (127.0.0.1:9090, no key) is served on weir's admin listener (with the admin key).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../harness';

/** A checker entry without weir's additions to its nodes. */
function apisixFields(entry: { nodes: Array<Record<string, unknown>> }): unknown {
  return { ...entry, nodes: entry.nodes.map(({ last_probe: _, ...node }) => node) };
}

describe('t/stream-node/control-api-healthcheck.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  it('TEST 1: set stream route(id: 1)', async () => {
    await h.ok('/apisix/admin/stream_routes/1', 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {
        "nodes": {"127.0.0.1:1995": 1},
        "type": "roundrobin",
        "checks": {
          "active": {
            "timeout": 40,
            "type": "tcp",
            "unhealthy": {"interval": 60, "failures": 2},
            "healthy": {"interval": 60, "successes": 2},
            "concurrency": 2
          }
        },
        "retries": 3,
        "timeout": {"read": 40, "send": 40, "connect": 40}
      }
    }`);
    assert.equal((await h.stream()).data, 'hello world\n'); // APISIX's /hit
    const entry = h.localize('{"name":"/apisix/stream_routes/1","nodes":[{"counter":{"http_failure":0,"success":0,"tcp_failure":0,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":1995,"status":"healthy"}],"type":"tcp"}');
    // weir adds each node's last probe ({ok, latency_ms, at}); APISIX's fields are exactly as APISIX has them
    const all = await h.t('/v1/healthcheck', 'GET');
    assert.deepEqual([all.status, all.body.map(apisixFields)], [200, JSON.parse(`[${entry}]`)]);
    const one = await h.t('/v1/healthcheck/stream_routes/1', 'GET');
    assert.deepEqual([one.status, apisixFields(one.body)], [200, JSON.parse(entry)]);
    assert.equal(one.body.nodes[0].last_probe.ok, true, 'the probe at the write found 1995 up');
  });
});
