// syslog: APISIX's schema and messages; what an entry holds (weir's default, the route's log_format, else
// plugin_metadata/syslog's); and a server that takes connections but never reads: the log phase stays
// instant, entries beyond drop_limit are dropped and counted in the metrics.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/lib/json';
import { renderExposition } from '../../src/metrics/exposition';
import { StreamMetrics } from '../../src/metrics/stream-metrics';
import { checkPluginConf } from '../../src/plugins/schema';
import { compileSyslog, syslog } from '../../src/plugins/syslog';
import type { PluginCompileContext } from '../../src/plugins/types';
import { NO_FILTERS, type FinishedConn } from '../../src/proxy/filter/types';
import type { LogClient } from '../../src/runtime/log-client';
import { configureErrorLog } from '../../src/log/logger';
import { sample } from '../helpers/metrics';
import { startServer, type TestServer } from '../helpers/net';
import { until } from '../helpers/udp';
import { testConn } from './conn';
import { testContext } from './plugin.cases';

function ctxOf(over: Partial<PluginCompileContext> = {}): PluginCompileContext {
  return { ...testContext({}, { id: 'r1' }), routeKey: '/apisix/stream_routes/r1', routeId: 'r1', ...over };
}

const FINISHED: FinishedConn = {
  conn: testConn(),
  info: { protocol: 'tcp', remoteAddr: '10.0.0.7', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null },
  route: { id: 'r1', key: '/apisix/stream_routes/r1', upstream: null, problem: null, filters: NO_FILTERS },
  node: { host: '127.0.0.1', port: 1995, weight: 1, priority: 0, address: '127.0.0.1:1995' },
  startedAt: 1_700_000_000_000,
  bytesFromClient: 12,
  bytesToClient: 34,
  end: 'closed',
  vars: new Map([['mqtt_client_id', 'sensor-1']]),
};

/** A client that keeps what it was asked to send. */
function keeper(): LogClient & { lines: string[] } {
  const lines: string[] = [];
  return { lines, send: async (batch) => void lines.push(...batch), close: () => {} };
}

/** The JSON message of an RFC 5424 line, and its header. */
function parseLine(line: string): { header: string; json: JsonObject } {
  const m = /^(<46>1 \S+ \S+ weir \d+ - -) (.*)$/.exec(line);
  assert.ok(m, line);
  return { header: m[1]!, json: JSON.parse(m[2]!) };
}

describe('syslog schema (APISIX)', () => {
  const table: Array<[unknown, string | null]> = [
    [{ host: '127.0.0.1', port: 5044 }, null],
    [{ host: '127.0.0.1', port: 5044, sock_type: 'udp', tls: false, timeout: 1, pool_size: 5, flush_limit: 1, drop_limit: 10, batch_max_size: 1, inactive_timeout: 1, buffer_duration: 1, max_retry_count: 0, retry_delay: 0, name: 'x', log_format: { ip: '$remote_addr' } }, null],
    [{ port: 5044 }, 'property "host" is required'],
    [{ host: '127.0.0.1' }, 'property "port" is required'],
    [{ host: '127.0.0.1', port: '5044' }, 'property "port" validation failed: wrong type: expected integer, got string'],
    [{ host: '127.0.0.1', port: 5044, sock_type: 'sctp' }, 'property "sock_type" validation failed: matches none of the enum values'],
    [{ host: '127.0.0.1', port: 5044, pool_size: 4 }, 'property "pool_size" validation failed: expected 4 to be at least 5'],
    [{ host: '127.0.0.1', port: 5044, timeout: 0 }, 'property "timeout" validation failed: expected 0 to be at least 1'],
    [{ host: '127.0.0.1', port: 5044, batch_max_size: 0 }, 'property "batch_max_size" validation failed: expected 0 to be at least 1'],
    [{ host: '127.0.0.1', port: 5044, max_retry_count: -1 }, 'property "max_retry_count" validation failed: expected -1 to be at least 0'],
    [{ host: '127.0.0.1', port: 5044, tls: 'yes' }, 'property "tls" validation failed: wrong type: expected boolean, got string'],
    [{ host: '127.0.0.1', port: 5044, log_format: [] }, 'property "log_format" validation failed: wrong type: expected object, got table'],
  ];
  for (const [conf, want] of table) {
    it(`${JSON.stringify(conf).slice(0, 90)} -> ${want ?? 'valid'}`, () => {
      assert.equal(checkPluginConf(syslog, conf as JsonObject), want);
    });
  }
  it('priority 401, host and port required in its JSON schema', () => {
    assert.equal(syslog.priority, 401);
    assert.deepEqual(syslog.jsonSchema.required, ['host', 'port']);
  });
});

describe('syslog entries', () => {
  const conf = { host: '127.0.0.1', port: 5044, batch_max_size: 1 };

  it("weir's default entry: route, client, server, upstream, times, bytes, status, end, the MQTT client id", async () => {
    const client = keeper();
    const { filter } = compileSyslog(conf, ctxOf(), client);
    const before = Date.now();
    filter.log!(FINISHED);
    await until(() => client.lines.length === 1);
    const { json } = parseLine(client.lines[0]!);
    assert.ok(typeof json.latency === 'number' && (json.latency as number) >= before - FINISHED.startedAt);
    delete json.latency;
    assert.deepEqual(json, {
      route_id: 'r1', client_ip: '10.0.0.7', client_port: 40000, server_addr: '127.0.0.1', server_port: 9100, protocol: 'tcp',
      upstream: '127.0.0.1:1995', start_time: 1_700_000_000_000, bytes_received: 12, bytes_sent: 34, status: 200, end: 'closed', mqtt_client_id: 'sensor-1',
    });
  });

  it('a refused connection carries its code as status', async () => {
    const client = keeper();
    const { filter } = compileSyslog(conf, ctxOf(), client);
    filter.log!({ ...FINISHED, node: null, bytesFromClient: 0, bytesToClient: 0, end: 'rejected', code: 503 });
    filter.log!({ ...FINISHED, node: null, end: 'connect_failed' });
    await until(() => client.lines.length === 2);
    assert.deepEqual(client.lines.map((l) => [parseLine(l).json.status, parseLine(l).json.upstream]), [[503, ''], [502, '']]);
  });

  it("the route's log_format wins over plugin_metadata's; variables without a value are left out", async () => {
    const client = keeper();
    const metadata = (name: string) => (name === 'syslog' ? { log_format: { from: 'metadata' } } : null);
    const format = { vip: '$remote_addr', port: '$remote_port', up: '$upstream_addr', st: '$status', id: '$mqtt_client_id', sni: '$ssl_server_name', proto: '$protocol', tag: 'literal', n: 7 };
    const { filter } = compileSyslog({ ...conf, log_format: format }, ctxOf({ metadata }), client);
    filter.log!(FINISHED);
    await until(() => client.lines.length === 1);
    assert.deepEqual(parseLine(client.lines[0]!).json, { vip: '10.0.0.7', port: 40000, up: '127.0.0.1:1995', st: 200, id: 'sensor-1', proto: 'TCP', tag: 'literal', n: 7 });
  });

  it("plugin_metadata/syslog's log_format when the route has none", async () => {
    const client = keeper();
    const metadata = (name: string) => (name === 'syslog' ? { log_format: { client_ip: '$remote_addr' } } : null);
    const { filter } = compileSyslog(conf, ctxOf({ metadata }), client);
    filter.log!(FINISHED);
    await until(() => client.lines.length === 1);
    assert.deepEqual(parseLine(client.lines[0]!).json, { client_ip: '10.0.0.7' });
  });
});

describe('syslog against a server that never reads', () => {
  let blackHole: TestServer;
  before(async () => {
    configureErrorLog({ sink: () => {} });
    blackHole = await startServer((s) => s.pause());
  });
  after(async () => {
    await blackHole.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  it('the log phase stays instant, memory stays at drop_limit, the rest is dropped and counted', async () => {
    const metrics = new StreamMetrics();
    const { filter, parts } = compileSyslog(
      { host: '127.0.0.1', port: blackHole.port, batch_max_size: 100, drop_limit: 200_000, timeout: 60_000 },
      ctxOf({ metrics }),
    );
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) filter.log!(FINISHED);
    const took = performance.now() - started;
    assert.ok(took < 2000, `20,000 log calls took ${took.toFixed(0)} ms`);
    assert.ok(parts.processor.pendingBytes <= 200_000);
    await until(() => parts.processor.stats.dropped > 0);
    const dropped = parts.processor.stats.dropped;
    assert.ok(dropped > 15_000, `dropped ${dropped}`);
    assert.equal(parts.dropped.value, dropped);
    assert.equal(sample(renderExposition(metrics.collect()), 'weir_stream_log_dropped_total', { plugin: 'syslog', route: 'r1' }), dropped);
    parts.client.close();
  });
});
