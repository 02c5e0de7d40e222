// Explain against reality: 1,000 random routes over four plain listeners (two ports on two loopback addresses)
// and a TLS passthrough one; for 200 random connections from random 127.0.x.y clients, the route and the next
// node explain names must be the route and node the real connection then gets (its access record).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { putObject } from '../../src/objects/index';
import type { AccessRecord } from '../../src/log/logger';
import { freePort, startEchoServer, type TestServer } from '../helpers/net';
import { startTestWeir, waitFor, type TestWeir } from '../helpers/weir';
import { pickOne, prng } from '../proxy/match/rules';

const SNIS = ['a.test.com', 'b.test.com', '*.test.com', '*.a.test.com', '*'];
const CLIENT_SNIS = ['a.test.com', 'b.test.com', 'x.a.test.com', 'z.test.com', 'other.org'];

/** Connect like a client would; resolves with the local port once the connection is over (or cut). */
function probe(host: string, port: number, localAddress: string, sni: string | null): Promise<number> {
  return new Promise((resolve) => {
    let localPort = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(localPort);
    };
    const raw = net.connect({ host, port, localAddress });
    // a passthrough upstream echoes the ClientHello back, which fails the client's handshake: that ends it
    const sock: net.Socket = sni === null ? raw : tls.connect({ socket: raw, servername: sni, rejectUnauthorized: false });
    const timer = setTimeout(finish, 3000);
    raw.once('connect', () => {
      localPort = raw.localPort ?? 0;
      if (sni === null) sock.write('ping');
    });
    raw.on('error', finish);
    sock.on('data', () => finish());
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

describe('explain names the route and node a real connection gets', () => {
  let w: TestWeir;
  let nodes: TestServer[];
  let P1: number;
  let P2: number;
  let P3: number;

  before(async () => {
    nodes = [await startEchoServer(), await startEchoServer()];
    P1 = await freePort();
    P2 = await freePort();
    P3 = await freePort();
    w = await startTestWeir([
      `"127.0.0.1:${P1}"`, `"127.0.0.2:${P1}"`, `"127.0.0.1:${P2}"`, `"127.0.0.2:${P2}"`,
      `{addr: "127.0.0.1:${P3}", tls_passthrough: true}`,
    ]);
    const store = w.weir.store;
    putObject({ store }, 'upstreams', 'u1', { type: 'roundrobin', nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port, weight: 1 })) });
    const rand = prng(16);
    for (let i = 0; i < 1000; i++) {
      const v: Record<string, unknown> = { upstream_id: 'u1' };
      const p = rand();
      if (p < 0.4) v.server_port = P1;
      else if (p < 0.7) v.server_port = P2;
      else if (p < 0.8) v.server_port = P3;
      // clients come from 127.0.0.0/18: a few routes cover a given one, so some find none
      if (rand() < 0.97) {
        const prefix = pickOne(rand, [24, 26, 28, 30, 32, 32]);
        v.remote_addr = `127.0.${Math.floor(rand() * 64)}.${Math.floor(rand() * 256)}/${prefix}`;
      } else {
        v.sni = pickOne(rand, SNIS);
      }
      if (rand() < 0.15) v.server_addr = pickOne(rand, ['127.0.0.1', '127.0.0.2', '127.0.0.0/8']);
      if (v.sni === undefined && rand() < 0.25) v.sni = pickOne(rand, SNIS);
      putObject({ store }, 'stream_routes', `r${String(Math.floor(rand() * 1e6)).padStart(6, '0')}-${i}`, v);
    }
    w.weir.refresh();
    assert.equal(w.weir.snapshot().routes.length, 1000);
  });
  after(async () => {
    await w?.stop();
    for (const n of nodes ?? []) await n.close();
  });

  it('over 200 random connections', async () => {
    const rand = prng(2026);
    const listeners: Array<[string, number, boolean]> = [
      ['127.0.0.1', P1, false], ['127.0.0.2', P1, false], ['127.0.0.1', P2, false], ['127.0.0.2', P2, false], ['127.0.0.1', P3, true],
    ];
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 200; n++) {
      const [host, port, passthrough] = pickOne(rand, listeners);
      const client = `127.0.${Math.floor(rand() * 64)}.${1 + Math.floor(rand() * 254)}`;
      const sni = passthrough ? pickOne(rand, CLIENT_SNIS) : null;
      const q = new URLSearchParams({ remote_addr: client, server_addr: host, server_port: String(port), ...(sni === null ? {} : { sni }) });
      const ex = await w.admin('GET', `/apisix/admin/stream_routes/explain?${q}`);
      assert.equal(ex.status, 200, JSON.stringify(ex.body));
      const localPort = await probe(host, port, client, sni);
      assert.ok(localPort > 0, 'connected');
      let rec: AccessRecord | undefined;
      await waitFor(() => (rec = w.access.find((r) => r.client === `${client}:${localPort}`)) !== undefined, 5000, `access record of ${client}:${localPort}`);
      const context = `probe ${n}: ${q} -> ${JSON.stringify(ex.body)} / ${JSON.stringify(rec)}`;
      assert.equal(rec!.route, ex.body.route?.id ?? null, context);
      assert.equal(rec!.end === 'no_route' ? 'no_route' : 'proxied', ex.body.outcome, context);
      if (rec!.upstream !== null) assert.equal(rec!.upstream, ex.body.route.next_node, context);
      outcomes.set(ex.body.outcome, (outcomes.get(ex.body.outcome) ?? 0) + 1);
    }
    // the random set must exercise both answers
    assert.ok((outcomes.get('proxied') ?? 0) > 50 && (outcomes.get('no_route') ?? 0) > 5, JSON.stringify([...outcomes]));
  });
});
