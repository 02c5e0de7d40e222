// APISIX t/stream-node/healthcheck-resty-events.t against weir (table: test/apisix/README.md). APISIX greps
// its log for the checker's steps; here the control API shows the node states and the clients see the answers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';
import { freePort } from '../../helpers/net';

describe('t/stream-node/healthcheck-resty-events.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start({}, { 9995: await freePort() }))); // 9995: nothing listens
  after(() => h.close());

  const NODES = `[
    {"host": "127.0.0.1", "port": 1995, "weight": 100, "priority": 0},
    {"host": "127.0.0.1", "port": 9995, "weight": 100, "priority": 1}
  ]`;
  /** The status the control API shows for a node of stream route 1, or null when there is no checker. */
  const status = async (address: string): Promise<string | null> => {
    const r = await h.t('/v1/healthcheck/stream_routes/1', 'GET');
    if (r.status === 404) return null;
    const [ip, port] = h.localize(address).split(':');
    return (r.body.nodes as { ip: string; port: number; status: string }[]).find((n) => n.ip === ip && n.port === Number(port))?.status ?? null;
  };
  /** Poll the control API (bounded) until the node shows `state`. */
  const until = async (address: string, state: string, ms: number) => {
    const deadline = Date.now() + ms;
    while ((await status(address)) !== state) {
      assert.ok(Date.now() < deadline, `${address} is ${state} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const threeHellos = async () => {
    for (let i = 0; i < 3; i++) assert.equal((await h.stream()).data, 'hello world\n');
  };

  it('TEST 1: create stream route with a upstream that enable active healthcheck only, two upstream nodes: one healthy + one unhealthy, unhealthy node with high priority', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {
        "nodes": ${NODES},
        "type": "roundrobin",
        "retries": 0,
        "checks": {
          "active": {
            "type": "tcp",
            "timeout": 1,
            "healthy": {"interval": 1, "successes": 2},
            "unhealthy": {"interval": 1, "tcp_failures": 1, "timeouts": 1}
          }
        }
      }
    }`);
  });

  // [weir] deliberate difference: APISIX creates the checker with the first connection, which therefore
  // fails ("first request should fail"); weir starts it when the route is written, so the dead node is
  // found out before any client comes. Then, as in APISIX: three answers from 127.0.0.1:1995, and deleting
  // the route releases the checker.
  it('TEST 2: hit stream routes (differs: the checker runs before the first connection)', async () => {
    assert.equal(h.w.access.length, 0, 'no connection yet');
    await until('127.0.0.1:9995', 'unhealthy', 5000);
    await threeHellos();
    assert.equal((await h.t(`${ADMIN}/stream_routes/1`, 'DELETE')).status, 200);
    assert.equal(await status('127.0.0.1:9995'), null, 'checker released');
  });

  it('TEST 3: create stream route with a upstream that enable active and passive healthcheck, configure active healthcheck with a high unhealthy threshold, two upstream nodes: one healthy + one unhealthy, unhealthy node with high priority', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {
        "nodes": ${NODES},
        "type": "roundrobin",
        "retries": 0,
        "checks": {
          "active": {
            "type": "tcp",
            "timeout": 1,
            "healthy": {"interval": 60, "successes": 2},
            "unhealthy": {"interval": 1, "tcp_failures": 254, "timeouts": 1}
          },
          "passive": {
            "type": "tcp",
            "healthy": {"successes": 1},
            "unhealthy": {"tcp_failures": 1}
          }
        }
      }
    }`);
  });

  // APISIX's second failing connection only works around lua-resty-events; one suffices for the passive check.
  it('TEST 4: hit stream routes', async () => {
    const first = await h.stream();
    assert.equal(first.data, '', 'first request should fail');
    await until('127.0.0.1:9995', 'unhealthy', 1000); // the one passive failure tripped it
    await threeHellos();
  });
});
