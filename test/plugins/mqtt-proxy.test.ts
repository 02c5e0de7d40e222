// mqtt-proxy: APISIX's schema and messages, the access decision for every way a CONNECT can end, and the
// filter on real sockets: a CONNECT dribbled in one byte at a time, chash on the client id, the preread
// timeout, a malformed packet closed with its reason, the broker receiving the CONNECT untouched.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { checkPluginConf } from '../../src/plugins/schema';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { DEFAULT_PLUGINS } from '../../src/plugins/registry';
import { decideMqtt, mqttProxy, MQTT_CLIENT_ID_VAR } from '../../src/plugins/mqtt-proxy';
import type { FilterConn } from '../../src/proxy/filter/types';
import { startTcpProxy, type TcpProxy } from '../../src/proxy/listener/tcp';
import { createNodeTcpDataPlane } from '../../src/runtime/tcp/node/plane';
import { buildSnapshot } from '../../src/snapshot/build';
import type { Snapshot } from '../../src/snapshot/types';
import type { JsonObject } from '../../src/lib/json';
import { AccessLog, type AccessRecord, configureErrorLog } from '../../src/log/logger';
import { startServer, type TestServer } from '../helpers/net';
import { until, wait } from '../helpers/udp';
import { APISIX_V4_FOO, connectPacket } from './mqtt-packets';
import { testConn } from './conn';

/** A FilterConn whose variables a test reads (what decideMqtt touches). */
function varsConn(): FilterConn & { vars: Map<string, string> } {
  return testConn();
}

describe('mqtt-proxy schema (APISIX: protocol_level required, protocol_name a string, other fields kept)', () => {
  const table: Array<[unknown, string | null]> = [
    [{ protocol_level: 4 }, null],
    [{ protocol_name: 'MQTT', protocol_level: 5 }, null],
    [{ protocol_name: 'MQTT', protocol_level: 4, upstream: { host: '127.0.0.1', port: 1995 } }, null],
    [{}, 'property "protocol_level" is required'],
    [{ protocol_name: 'MQTT' }, 'property "protocol_level" is required'],
    [{ protocol_level: '4' }, 'property "protocol_level" validation failed: wrong type: expected integer, got string'],
    [{ protocol_level: 4.5 }, 'property "protocol_level" validation failed: wrong type: expected integer, got number'],
    [{ protocol_name: 4, protocol_level: 4 }, 'property "protocol_name" validation failed: wrong type: expected string, got number'],
  ];
  for (const [conf, want] of table) {
    it(`${JSON.stringify(conf)} -> ${want ?? 'valid'}`, () => {
      assert.equal(checkPluginConf(mqttProxy, conf as JsonObject), want);
    });
  }

  it('publishes APISIX\'s JSON schema', () => {
    assert.deepEqual(mqttProxy.jsonSchema, { type: 'object', properties: { protocol_name: { type: 'string', default: 'MQTT' }, protocol_level: { type: 'integer' } }, required: ['protocol_level'] });
    assert.equal(mqttProxy.priority, 1000);
  });
});

describe('mqtt-proxy access decision', () => {
  it('admits a matching CONNECT and sets mqtt_client_id; an empty id leaves it unset (chash then hashes remote_addr)', () => {
    const c = varsConn();
    assert.equal(decideMqtt(APISIX_V4_FOO, 'data', 'MQTT', 4, c), undefined);
    assert.deepEqual([...c.vars], [[MQTT_CLIENT_ID_VAR, 'foo']]);
    const empty = varsConn();
    assert.equal(decideMqtt(connectPacket({ clientId: '' }), 'data', 'MQTT', 4, empty), undefined);
    assert.equal(empty.vars.size, 0);
  });

  it('waits for more while the CONNECT is incomplete', () => {
    assert.equal(decideMqtt(APISIX_V4_FOO.subarray(0, 9), 'data', 'MQTT', 4, varsConn()), null);
  });

  const refusals: Array<[string, Uint8Array, Parameters<typeof decideMqtt>[1], string]> = [
    ['preread timeout', APISIX_V4_FOO.subarray(0, 9), 'timeout', 'no complete CONNECT before the preread timeout'],
    ['client closed', APISIX_V4_FOO.subarray(0, 3), 'eof', 'client closed before a complete CONNECT'],
    ['socket error', new Uint8Array(0), 'error', 'socket error before a complete CONNECT'],
    ['too long', connectPacket({ clientId: 'x'.repeat(17_000) }).subarray(0, 16_384), 'full', 'CONNECT longer than 16384 bytes up to its client id'],
    ["APISIX's 'mmm'", Buffer.from('mmm'), 'data', 'malformed CONNECT: expected a CONNECT packet (first byte 0x10), got 0x6d'],
    ['wrong level', connectPacket({ level: 5, clientId: 'c' }), 'data', 'protocol level 5, expected 4'],
    ['wrong name', connectPacket({ name: 'MQIsdp', level: 3 }), 'data', 'protocol name "MQIsdp", expected "MQTT"'],
  ];
  for (const [what, bytes, state, reason] of refusals) {
    it(`${what}: 503 "${reason}"`, () => {
      const c = varsConn();
      assert.deepEqual(decideMqtt(bytes, state, 'MQTT', 4, c), { code: 503, reason: `mqtt-proxy: ${reason}` });
      assert.equal(c.vars.size, 0);
    });
  }

  it('a complete CONNECT decides even when the preread stopped at its limit', () => {
    assert.equal(decideMqtt(APISIX_V4_FOO, 'full', 'MQTT', 4, varsConn()), undefined);
  });

  it('a UDP session (no preread) is refused: MQTT runs over TCP', () => {
    const filter = mqttProxy.compile({ protocol_level: 4 }, null as never);
    assert.deepEqual(filter.access!(varsConn()), { code: 503, reason: 'mqtt-proxy: MQTT runs over TCP; this is a UDP session' });
  });

  it('a custom protocol_name is compared as given', () => {
    assert.equal(decideMqtt(connectPacket({ name: 'MQIsdp', level: 3 }), 'data', 'MQIsdp', 3, varsConn()), undefined);
  });
});

describe('mqtt-proxy on real sockets', () => {
  let brokers: Array<TestServer & { got: Buffer[] }>;
  let proxy: TcpProxy;
  let port: number;
  let current: Snapshot;
  const records: AccessRecord[] = [];

  before(async () => {
    configureErrorLog({ sink: () => {} });
    brokers = [];
    for (let i = 0; i < 3; i++) {
      const got: Buffer[] = [];
      // answers once the client has sent everything (its FIN): every byte has arrived by then
      const server = await startServer((s) => {
        s.on('data', (d) => got.push(d));
        s.on('end', () => s.end(`broker${i}`));
      });
      brokers.push(Object.assign(server, { got }));
    }
    const accessLog = new AccessLog({ sink: (text) => records.push(...text.trim().split('\n').map((l) => JSON.parse(l))) });
    proxy = await startTcpProxy({
      plane: createNodeTcpDataPlane(),
      listeners: [{ host: '127.0.0.1', port: 0, tls: false, origin: 't' }],
      snapshot: () => current,
      accessLog,
      // 2 s: a CONNECT sent one byte every 2 ms must fit in it on a busy machine too
      tls: { fallbackSni: null, prereadTimeoutMs: 2000 },
    });
    port = proxy.listeners[0]!.port;
    const route: JsonObject = {
      id: 'm',
      server_port: port,
      plugins: { 'mqtt-proxy': { protocol_level: 4 } },
      upstream: { type: 'chash', key: 'mqtt_client_id', nodes: brokers.map((b) => ({ host: '127.0.0.1', port: b.port, weight: 1 })) },
    };
    const row = { id: 'm', value: route, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(route) };
    current = buildSnapshot({ revision: 1, streamRoutes: [row], upstreams: [], ssls: [], unreadable: [] }, null, new FilterCompiler(DEFAULT_PLUGINS, new LocalConnCounters()).deps).snapshot;
  });
  after(async () => {
    await proxy.shutdown(0);
    for (const b of brokers) await b.close();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  /** Send `bytes` in pieces of `step` bytes, `gapMs` apart, then FIN; resolve with what came back. */
  function dribble(bytes: Uint8Array, step: number, gapMs: number): Promise<string> {
    return new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let got = '';
      sock.on('data', (d) => (got += d));
      sock.on('error', () => {});
      sock.on('close', () => resolve(got));
      sock.on('connect', async () => {
        for (let i = 0; i < bytes.length; i += step) {
          if (sock.destroyed) return;
          sock.write(bytes.subarray(i, i + step));
          if (gapMs > 0) await wait(gapMs);
        }
        if (!sock.destroyed) sock.end();
      });
    });
  }

  it('a CONNECT sent one byte at a time reaches a broker untouched; the same id always reaches the same broker', async () => {
    const packet = connectPacket({ clientId: 'dribbler', rest: [0xc0, 0x00] }); // CONNECT, then a PINGREQ
    const first = await dribble(packet, 1, 2);
    assert.match(first, /^broker\d$/);
    const home = Number(first.slice(-1));
    assert.deepEqual(Buffer.concat(brokers[home]!.got), Buffer.from(packet));
    for (let i = 0; i < 4; i++) assert.equal(await dribble(connectPacket({ clientId: 'dribbler' }), 7, 0), first);
  });

  it('client ids spread over the brokers', async () => {
    const homes = new Set<string>();
    // 40 ids: the ring follows the brokers' random ports, and 12 ids once all missed one broker
    for (let i = 0; i < 40; i++) homes.add(await dribble(connectPacket({ clientId: `id-${i}` }), 1000, 0));
    assert.equal(homes.size, 3);
  });

  it('closes a malformed packet before any broker connect, and logs why', async () => {
    const accepted = brokers.reduce((n, b) => n + b.accepted, 0);
    assert.equal(await dribble(connectPacket({ flags: 0x03 }), 4, 1), '');
    await until(() => records.some((r) => r.end === 'rejected'));
    assert.equal(records.at(-1)!.error, '503 mqtt-proxy: malformed CONNECT: connect flags: the reserved bit 0 is set');
    assert.equal(brokers.reduce((n, b) => n + b.accepted, 0), accepted);
  });

  it('closes a client that stops half-way through its CONNECT after the preread timeout', async () => {
    const started = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(APISIX_V4_FOO.subarray(0, 8));
    await new Promise((r) => sock.on('close', r));
    const took = Date.now() - started;
    assert.ok(took >= 1950 && took < 10_000, `closed after ${took} ms`);
    await until(() => records.some((r) => r.error?.includes('preread timeout')));
    assert.equal(records.at(-1)!.error, '503 mqtt-proxy: no complete CONNECT before the preread timeout');
  });
});
