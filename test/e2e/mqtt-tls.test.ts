// mqtt-proxy behind a terminating TLS listener (MQTT over TLS, port 8883 style): the filter's preread comes
// after the TLS prelude's ClientHello preread and the handshake, reads the decrypted CONNECT, and the
// upstream receives it untouched; a wrong level is closed there too. Also run by Bun (its native TLS).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { freePort, startServer, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { pem } from '../tls/fixtures';
import { connectPacket } from '../plugins/mqtt-packets';

/** TLS to weir with SNI a.test.com, send `bytes` in two pieces, collect until the peer closes (5 s bound). */
function tlsSend(port: number, bytes: Uint8Array): Promise<{ data: Buffer; handshake: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let handshake = false;
    const sock = tls.connect({ host: '127.0.0.1', port, servername: 'a.test.com', ca: pem.ca }, () => {
      handshake = true;
      sock.write(bytes.subarray(0, 5));
      setTimeout(() => sock.write(bytes.subarray(5)), 20);
    });
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), handshake });
    });
  });
}

describe('mqtt-proxy after TLS termination', () => {
  let w: TestWeir;
  let broker: TestServer & { got: Buffer[] };
  let port: number;

  before(async () => {
    const got: Buffer[] = [];
    const server = await startServer((s) => {
      s.on('data', (d) => {
        got.push(d);
        s.end('CONNACK');
      });
    });
    broker = Object.assign(server, { got });
    port = await freePort();
    w = await startTestWeir([`{addr: "127.0.0.1:${port}", tls: true}`], { extraYaml: 'stream_plugins: [mqtt-proxy]' });
    assert.equal((await w.admin('PUT', '/apisix/admin/ssls/1', { ...pem.a, sni: 'a.test.com' })).status, 201);
    const route = { server_port: port, plugins: { 'mqtt-proxy': { protocol_level: 4 } }, upstream: { nodes: { [`127.0.0.1:${broker.port}`]: 1 } } };
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/mqtts', route)).status, 201);
  });
  after(async () => {
    await w?.stop();
    await broker?.close();
  });

  it('reads the decrypted CONNECT; the broker receives it untouched', async () => {
    const packet = connectPacket({ clientId: 'secure-1' });
    const r = await tlsSend(port, packet);
    assert.equal(r.handshake, true);
    assert.equal(r.data.toString(), 'CONNACK');
    assert.deepEqual(Buffer.concat(broker.got), Buffer.from(packet));
  });

  it('closes a wrong protocol level after the handshake, before any broker connect', async () => {
    const accepted = broker.accepted;
    const r = await tlsSend(port, connectPacket({ level: 5, clientId: 'v5' }));
    assert.equal(r.handshake, true);
    assert.equal(r.data.length, 0);
    await waitFor(() => w.access.some((a) => a.end === 'rejected'));
    assert.equal(w.access.find((a) => a.end === 'rejected')!.error, '503 mqtt-proxy: protocol level 5, expected 4');
    assert.equal(broker.accepted, accepted);
  });
});
