// Real mosquitto brokers behind weir, driven by the real mosquitto_pub / mosquitto_sub: mqtt-proxy reads each
// client's CONNECT, and a chash upstream on mqtt_client_id keeps every client id on one broker; a wrong
// protocol level (or name) is closed before any broker sees it; MQTT 5 through a level-5 route.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { freePort } from '../helpers/net';
import { startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';
import { missingServers, startMosquitto, type Mosquitto } from '../helpers/servers';

const skip = missingServers('mosquitto', 'mosquitto_pub', 'mosquitto_sub');

/** mosquitto_pub once; resolves with its exit code and output. */
function publish(port: number, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'weir/test', ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

describe('mosquitto behind weir: mqtt-proxy and chash on mqtt_client_id', { skip: skip ?? false }, () => {
  const dir = tempDir('weir-mqtt-');
  const brokers: Mosquitto[] = [];
  let w: TestWeir;
  let v4Port: number;
  let v5Port: number;

  before(async () => {
    for (let i = 0; i < 3; i++) brokers.push(await startMosquitto(await freePort(), dir.path));
    v4Port = await freePort();
    v5Port = await freePort();
    w = await startTestWeir([`"127.0.0.1:${v4Port}"`, `"127.0.0.1:${v5Port}"`], { extraYaml: 'stream_plugins: [mqtt-proxy]' });
    const nodes = brokers.map((b) => ({ host: '127.0.0.1', port: b.port, weight: 1 }));
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/brokers', { type: 'chash', key: 'mqtt_client_id', nodes })).status, 201);
    for (const [id, port, level] of [['v4', v4Port, 4], ['v5', v5Port, 5]] as const) {
      const put = await w.admin('PUT', `/apisix/admin/stream_routes/${id}`, { server_port: port, plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: level } }, upstream_id: 'brokers' });
      assert.equal(put.status, 201);
    }
  });
  after(async () => {
    await w?.stop();
    for (const b of brokers) b.stop();
    dir.remove();
  });

  /** Which broker accepted the client id `id` (by the brokers' own logs), -1 when none. */
  const brokerOf = (id: string): number => brokers.findIndex((b) => b.clients().includes(id));

  it('several client ids each stick to one broker, over repeated connections, and spread over the brokers', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `sensor-${i}`);
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        const r = await publish(v4Port, ['-i', id, '-m', `reading ${round}`, '-V', 'mqttv311']);
        assert.equal(r.code, 0, r.out);
      }
    }
    await waitFor(() => ids.every((id) => brokers.reduce((n, b) => n + b.clients().filter((c) => c === id).length, 0) === 3), 5000, 'every connect logged');
    const placement = new Map<string, number>();
    for (const id of ids) {
      const holders = brokers.map((b) => b.clients().filter((c) => c === id).length);
      assert.deepEqual(holders.filter((n) => n > 0), [3], `${id} reached one broker three times: ${holders}`);
      placement.set(id, brokerOf(id));
    }
    assert.ok(new Set(placement.values()).size >= 2, `ids spread over the brokers: ${[...placement.values()]}`);
    // weir's access log: 36 connections, each closed normally, to the broker the id lives on
    await waitFor(() => w.access.filter((r) => r.route === 'v4').length === 36, 5000, '36 access records');
    const records = w.access.filter((r) => r.route === 'v4');
    assert.deepEqual(new Set(records.map((r) => r.end)), new Set(['closed']));
    assert.deepEqual(new Set(records.map((r) => r.upstream)), new Set([...placement.values()].map((b) => `127.0.0.1:${brokers[b]!.port}`)));
  });

  it('a subscriber receives what a publisher with an id on the same broker sends, through weir', async () => {
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(v4Port), '-i', 'reader', '-t', 'weir/chat', '-C', '1', '-V', 'mqttv311'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let got = '';
    sub.stdout!.on('data', (d) => (got += d));
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
    try {
      await waitFor(() => brokerOf('reader') >= 0, 5000, 'the subscriber connected');
      const home = brokerOf('reader');
      // publishers whose id hashes to the subscriber's broker reach it; the others reach another broker
      let delivered = '';
      let writer = '';
      for (let k = 0; k < 40 && delivered === ''; k++) {
        const id = `writer-${k}`;
        assert.equal((await publish(v4Port, ['-i', id, '-t', 'weir/chat', '-m', `hello from ${id}`])).code, 0);
        await waitFor(() => brokerOf(id) >= 0, 5000, `${id} connected`);
        if (brokerOf(id) === home) [delivered, writer] = [`hello from ${id}`, id];
      }
      assert.notEqual(delivered, '', 'some writer id lands on the reader\'s broker');
      // the broker may take the reader's SUBSCRIBE after that first message (it is then not delivered): the same
      // writer sends again, a bounded number of times, until the reader has it
      for (let i = 0; i < 10 && got === ''; i++) {
        if (i > 0) assert.equal((await publish(v4Port, ['-i', writer, '-t', 'weir/chat', '-m', delivered])).code, 0);
        await waitFor(() => got !== '', 1000, 'the message').catch(() => undefined);
      }
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(r, 10_000, 'still running after 10 s'))]);
      assert.equal(code, 0);
      assert.equal(got.trim(), delivered);
    } finally {
      sub.kill();
    }
  });

  it('a wrong protocol level (MQTT 5 on a 3.1.1 route) is closed before any broker sees it', async () => {
    const r = await publish(v4Port, ['-i', 'too-new', '-m', 'x', '-V', 'mqttv5']);
    assert.notEqual(r.code, 0);
    await waitFor(() => w.access.some((a) => a.route === 'v4' && a.end === 'rejected'), 5000);
    const rejected = w.access.filter((a) => a.route === 'v4' && a.end === 'rejected');
    assert.equal(rejected.at(-1)!.error, '503 mqtt-proxy: protocol level 5, expected 4');
    assert.equal(rejected.at(-1)!.upstream, null);
    assert.equal(brokerOf('too-new'), -1);
  });

  it('MQTT 3.1 (MQIsdp) on a route that expects MQTT is closed, naming the protocol', async () => {
    const r = await publish(v4Port, ['-i', 'old-client', '-m', 'x', '-V', 'mqttv31']);
    assert.notEqual(r.code, 0);
    await waitFor(() => w.access.some((a) => a.error === '503 mqtt-proxy: protocol name "MQIsdp", expected "MQTT"'), 5000);
    assert.equal(brokerOf('old-client'), -1);
  });

  it('MQTT 5 clients through a level-5 route, chash on their ids too', async () => {
    for (let round = 0; round < 2; round++) {
      for (const id of ['v5-a', 'v5-b', 'v5-c']) assert.equal((await publish(v5Port, ['-i', id, '-m', 'x', '-V', 'mqttv5'])).code, 0);
    }
    await waitFor(() => ['v5-a', 'v5-b', 'v5-c'].every((id) => brokers.some((b) => b.clients().filter((c) => c === id).length === 2)), 5000, 'each id twice on one broker');
  });
});
