// UDP health checks against real DNS servers: two dnsmasq nodes behind a weir UDP route, probed with a real
// DNS query (checks.active.type udp). A stopped node is marked down after exactly `failures` failed probes,
// within unhealthy.interval x failures (plus a probe's timeout), queries go to the other, and a restarted node
// comes back.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../helpers/net';
import { missingServers } from '../helpers/servers';
import { deadUdpPort, startDnsmasq, type Dnsmasq } from '../helpers/udp';
import { configureErrorLog } from '../../src/log/logger';
import { startTestWeir, tempDir, type TestWeir } from '../helpers/weir';

const run = promisify(execFile);
const skip = missingServers('dnsmasq', 'dig');

/** A DNS query (id 0x1234, recursion desired) for `name` A, as hex: what the probe sends. */
export function dnsQueryHex(name: string): string {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l)]));
  return Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), ...labels, Buffer.from('0000010001', 'hex')]).toString('hex');
}

describe('UDP probes against dnsmasq nodes', { skip: skip ?? false }, () => {
  const dir = tempDir('weir-health-udp-');
  const dns: Dnsmasq[] = [];
  let w: TestWeir;
  let listen: number;
  const INTERVAL_S = 1;
  const FAILURES = 2;
  const PROBE_TIMEOUT_S = 0.5;
  /** Error-log lines of this test's weir (the checker logs each node's change of state). */
  const logged: string[] = [];

  /**
   * dnsmasq on `port` (a restart), or on a fresh port: it binds TCP and UDP, and a port free for UDP may be
   * taken for TCP, so a fresh one is tried a few times.
   */
  async function dnsmasqOn(port: number | null): Promise<Dnsmasq> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startDnsmasq(port ?? (await deadUdpPort()), dir.path);
      } catch (err) {
        if (attempt === 5 || !String(err).includes('Address already in use')) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  before(async () => {
    configureErrorLog({ sink: (text) => (logged.push(text), process.stderr.write(text)) });
    for (let i = 0; i < 2; i++) dns.push(await dnsmasqOn(null));
    listen = await freePort();
    w = await startTestWeir([], { udp: [`"127.0.0.1:${listen}"`], extraYaml: ['  stream:', '    proxy_responses: 1'].join('\n') });
    const put = await w.admin('PUT', '/apisix/admin/upstreams/dns', {
      scheme: 'udp',
      nodes: dns.map((d) => ({ host: '127.0.0.1', port: d.port, weight: 1 })),
      checks: {
        active: {
          type: 'udp', timeout: PROBE_TIMEOUT_S,
          // a real query for health.example.test; the answer must carry 10.1.2.3
          udp: { send_hex: dnsQueryHex('health.example.test'), expect_hex: '0a010203' },
          healthy: { interval: INTERVAL_S, successes: 1 },
          unhealthy: { interval: INTERVAL_S, tcp_failures: FAILURES, timeouts: FAILURES },
        },
      },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal((await w.admin('PUT', '/apisix/admin/stream_routes/dns', { server_port: listen, upstream_id: 'dns' })).status, 201);
  });
  after(async () => {
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
    await w?.stop();
    for (const d of dns) await d.close();
    dir.remove();
  });

  async function statusOf(port: number): Promise<string> {
    const r = await w.admin('GET', '/v1/healthcheck/upstreams/dns');
    return r.body.nodes.find((n: { port: number }) => n.port === port)?.status ?? 'none';
  }

  async function until(port: number, status: string, ms: number): Promise<number> {
    const started = Date.now();
    while ((await statusOf(port)) !== status) {
      if (Date.now() - started > ms) assert.fail(`node ${port} not ${status} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return Date.now() - started;
  }

  /** `n` queries through weir; the nodes that answered them, from the access log. */
  async function queries(n: number): Promise<number[]> {
    const from = w.access.length;
    for (let i = 0; i < n; i++) {
      const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(listen), `q${i}.example.test`, '+short', '+tries=1', '+time=2'], { timeout: 5000 });
      assert.equal(stdout.trim(), '10.1.2.3');
    }
    for (let i = 0; i < 500 && w.access.length < from + n; i++) await new Promise((r) => setTimeout(r, 20));
    return w.access.slice(from).map((r) => Number(String(r.upstream).split(':')[1]));
  }

  it('both nodes answer the probe query and share the queries', async () => {
    for (const d of dns) await until(d.port, 'healthy', 10_000);
    const info = await w.admin('GET', '/v1/healthcheck/upstreams/dns');
    assert.equal(info.body.type, 'udp');
    assert.deepEqual(info.body.nodes.map((n: any) => n.last_probe?.ok), [true, true]);
    assert.deepEqual(new Set(await queries(6)), new Set(dns.map((d) => d.port)));
  });

  it('a stopped node is down within interval x failures, and the queries go to the other', async () => {
    const [a, b] = dns as [Dnsmasq, Dnsmasq];
    await b.close();
    const closedAt = Date.now();
    await until(b.port, 'unhealthy', 10_000);
    // when weir marked it down, by its own log line: the Admin API polls above may answer late on a busy machine
    const line = logged.find((l) => l.includes(' upstream node is unhealthy ') && l.includes(` node=127.0.0.1:${b.port} `));
    assert.ok(line !== undefined, logged.join(''));
    // a probe every healthy.interval, each answered by ICMP port unreachable at once (tcp_failure); Deno's
    // node:dgram reports no ICMP refusal, so there each probe fails by its timeout instead
    const why = / after="active (tcp_failure|timeout) (\d+)\/(\d+)"/.exec(line);
    assert.deepEqual(why?.slice(2), [String(FAILURES), String(FAILURES)], line);
    const took = Date.parse(line.slice(0, line.indexOf(' '))) - closedAt;
    const bound = INTERVAL_S * FAILURES * 1000 + (why![1] === 'timeout' ? PROBE_TIMEOUT_S * 1000 : 0) + 500;
    assert.ok(took <= bound, `marked down after ${took} ms (at most ${bound})`);
    assert.deepEqual(await queries(6), Array(6).fill(a.port));
  });

  it('a restarted node comes back and gets queries again', async () => {
    const port = dns[1]!.port;
    dns[1] = await dnsmasqOn(port);
    await until(port, 'healthy', 10_000);
    assert.ok((await queries(6)).includes(port));
  });
});
