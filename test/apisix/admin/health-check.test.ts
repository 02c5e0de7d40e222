// APISIX t/admin/health-check.t against weir (table: test/apisix/README.md). APISIX's blocks put the upstream
// in an HTTP route ({"methods": ["GET"], "upstream": ..., "uri": "/index.html"}); at L4 it is a stream route
// holding the same upstream, so every message keeps its `property "upstream" validation failed:` head.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/health-check.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const route = (checks: string) => `{"upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "checks": ${checks}}}`;
  /** PUT, and the reply must hold the route as sent (APISIX's exp_data). */
  const accepted = (checks: string) => h.ok(`${ADMIN}/stream_routes/1`, 'PUT', route(checks), `{"value": ${route(checks)}, "key": "/apisix/stream_routes/1"}`);
  const refused = async (checks: string, message: string) => {
    const r = await h.t(`${ADMIN}/stream_routes/1`, 'PUT', route(checks));
    assert.deepEqual([r.status, r.body], [400, JSON.parse(message)]);
  };
  const PREFIX = 'invalid configuration: property \\"upstream\\" validation failed: property \\"checks\\" validation failed: ';

  it('TEST 1: active', async () => {
    await accepted(`{"active": {
      "http_path": "/status",
      "host": "foo.com",
      "healthy": {"interval": 2, "successes": 1},
      "unhealthy": {"interval": 1, "http_failures": 2}
    }}`);
  });

  it('TEST 2: passive', async () => {
    await accepted(`{
      "active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}},
      "passive": {
        "healthy": {"http_statuses": [200, 201], "successes": 1},
        "unhealthy": {"http_statuses": [500], "http_failures": 2}
      }
    }`);
  });

  it('TEST 3: invalid route: active.healthy.successes counter exceed maximum value', async () => {
    await refused('{"active": {"healthy": {"successes": 255}}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"healthy\\" validation failed: property \\"successes\\" validation failed: expected 255 to be at most 254"}`);
  });

  it('TEST 4: invalid route: active.healthy.successes counter below the minimum value', async () => {
    await refused('{"active": {"healthy": {"successes": 0}}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"healthy\\" validation failed: property \\"successes\\" validation failed: expected 0 to be at least 1"}`);
  });

  it('TEST 5: invalid route: wrong passive.unhealthy.http_statuses', async () => {
    await refused('{"passive": {"unhealthy": {"http_statuses": [500, 600]}}}',
      `{"error_msg":"${PREFIX}property \\"passive\\" validation failed: property \\"unhealthy\\" validation failed: property \\"http_statuses\\" validation failed: failed to validate item 2: expected 600 to be at most 599"}`);
  });

  // APISIX's block sends type "udp", which APISIX's enum refuses; weir has UDP probes (a weir extension), so
  // "udp" without its `udp` payload is refused for that instead, and a type neither knows keeps APISIX's message
  it('TEST 6: invalid route: wrong active.type (differs: weir probes udp)', async () => {
    await refused('{"active": {"type": "udp"}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"udp\\" is required when type is \\"udp\\""}`);
    await refused('{"active": {"type": "grpc"}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"type\\" validation failed: matches none of the enum values"}`);
  });

  it('TEST 7: invalid route: duplicate items in active.healthy.http_statuses', async () => {
    await refused('{"active": {"healthy": {"http_statuses": [200, 200]}}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"healthy\\" validation failed: property \\"http_statuses\\" validation failed: expected unique items but items 1 and 2 are equal"}`);
  });

  it('TEST 8: invalid route: active.unhealthy.http_failure is a floating point value', async () => {
    await refused('{"active": {"unhealthy": {"http_failures": 3.1}}}',
      `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"unhealthy\\" validation failed: property \\"http_failures\\" validation failed: wrong type: expected integer, got number"}`);
  });

  it('TEST 9: valid req_headers', async () => {
    await accepted(`{"active": {
      "http_path": "/status",
      "host": "foo.com",
      "healthy": {"interval": 2, "successes": 1},
      "req_headers": ["User-Agent: curl/7.29.0"]
    }}`);
  });

  it('TEST 10: multiple request headers', async () => {
    await accepted(`{"active": {
      "http_path": "/status",
      "host": "foo.com",
      "healthy": {"interval": 2, "successes": 1},
      "req_headers": ["User-Agent: curl/7.29.0", "Accept: */*"]
    }}`);
  });

  it('TEST 11: invalid req_headers', async () => {
    await refused(`{"active": {
      "http_path": "/status",
      "host": "foo.com",
      "healthy": {"interval": 2, "successes": 1},
      "req_headers": ["User-Agent: curl/7.29.0", 2233]
    }}`, `{"error_msg":"${PREFIX}property \\"active\\" validation failed: property \\"req_headers\\" validation failed: failed to validate item 2: wrong type: expected string, got number"}`);
  });

  it('TEST 12: only passive', async () => {
    await refused(`{"passive": {
      "healthy": {"http_statuses": [200, 201], "successes": 1},
      "unhealthy": {"http_statuses": [500], "http_failures": 2}
    }}`, `{"error_msg":"${PREFIX}object matches none of the required: [\\"active\\"] or [\\"active\\",\\"passive\\"]"}`);
  });

  // APISIX's block sets exp_data.value.upstream.checks.passive, which is the very table it sends: the route
  // goes out with these passive values too.
  it('TEST 13: only active', async () => {
    await accepted(`{
      "active": {
        "http_path": "/status",
        "host": "foo.com",
        "healthy": {"interval": 2, "successes": 1},
        "unhealthy": {"interval": 1, "http_failures": 2}
      },
      "passive": {
        "type": "http",
        "healthy": {
          "http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308],
          "successes": 0
        },
        "unhealthy": {"http_statuses": [429, 500, 503], "tcp_failures": 0, "timeouts": 0, "http_failures": 0}
      }
    }`);
  });

  it('TEST 14: number type timeout', async () => {
    await accepted(`{"active": {
      "http_path": "/status",
      "host": "foo.com",
      "timeout": 1.01,
      "healthy": {"interval": 2, "successes": 1},
      "unhealthy": {"interval": 1, "http_failures": 2}
    }}`);
  });
});
