// A real DNS server (dnsmasq) behind weir, asked by the real dig: over UDP, and over TCP by the same route.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { deadUdpPort, startDnsmasq, until, type Dnsmasq } from '../helpers/udp';
import { startTestWeir, tempDir, type TestWeir } from '../helpers/weir';

const run = promisify(execFile);
const skip = missingServers('dnsmasq', 'dig');

describe('dnsmasq behind weir, asked by dig', { skip: skip ?? false }, () => {
  const dir = tempDir('weir-dns-');
  let dns: Dnsmasq;
  let w: TestWeir;
  let port: number; // weir's UDP and TCP listeners share this port number

  before(async () => {
    // dnsmasq binds TCP and UDP on its port; a port free for UDP may be taken for TCP: try a few
    for (let attempt = 1; ; attempt++) {
      try {
        dns = await startDnsmasq(await deadUdpPort(), dir.path);
        break;
      } catch (err) {
        if (attempt === 5 || !String(err).includes('Address already in use')) throw err;
      }
    }
    port = await freePort();
    w = await startTestWeir([`"127.0.0.1:${port}"`], {
      udp: [`"127.0.0.1:${port}"`],
      // one answer per query ends the session at once, as DNS wants (nginx: proxy_responses 1)
      extraYaml: ['  stream:', '    proxy_responses: 1'].join('\n'),
    });
    const put = await w.admin('PUT', '/apisix/admin/stream_routes/dns', {
      server_port: port,
      upstream: { type: 'roundrobin', scheme: 'udp', nodes: { [`127.0.0.1:${dns.port}`]: 1 } },
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await w?.stop();
    await dns?.close();
    dir.remove();
  });

  const dig = async (...args: string[]) =>
    (await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], { timeout: 10000 })).stdout.trim();

  it('answers an A query over UDP and ends the session after the answer', async () => {
    const logged = w.access.length;
    assert.equal(await dig('www.example.test', 'A', '+short'), '10.1.2.3');
    await until(() => w.access.length > logged, 10_000, 'access record');
    const r = w.access.at(-1)!;
    assert.deepEqual(
      [r.protocol, r.route, r.upstream, r.end, r.datagrams_from_client, r.datagrams_to_client],
      ['udp', 'dns', `127.0.0.1:${dns.port}`, 'responses', 1, 1],
    );
    assert.ok(r.bytes_to_client > r.bytes_from_client, 'an answer is longer than its question');
    assert.equal(w.weir.udpProxy.activeSessions(), 0);
  });

  it('answers a batch of 50 queries, each from its own session', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `host${i}.example.test`);
    const file = join(dir.path, 'queries');
    writeFileSync(file, names.map((n) => `${n} A`).join('\n') + '\n');
    const before = w.weir.udpProxy.stats().sessions;
    const answers = (await dig('-f', file, '+short')).split('\n');
    assert.deepEqual(answers, names.map(() => '10.1.2.3'));
    assert.equal(w.weir.udpProxy.stats().sessions, before + 50);
  });

  it("passes dnsmasq's own refusal through for a name it does not serve (no upstream resolvers)", async () => {
    const out = await dig('nothing.invalid', 'A');
    assert.match(out, /status: REFUSED,/);
  });

  it('serves the same route over TCP (dig +tcp)', async () => {
    assert.equal(await dig('tcp.example.test', 'A', '+short', '+tcp'), '10.1.2.3');
  });
});
