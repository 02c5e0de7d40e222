// PROXY protocol against real peers, on loopback: HAProxy in front of weir (send-proxy, send-proxy-v2,
// send-proxy-v2-ssl), HAProxy behind weir (accept-proxy; its log shows the client and the TLVs weir sent), nginx
// behind weir (listen ... proxy_protocol; $proxy_protocol_addr in its access log), and a weir whose
// real_ip_from leaves HAProxy out. Clients connect from 127.0.0.x addresses of their own, so the address a
// peer saw is told apart from the peers' own 127.0.0.1. Skips when haproxy or nginx is missing (fails in CI).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { configureErrorLog } from '../../src/log/logger';
import { freePort, startEchoServer, type TestServer } from '../helpers/net';
import { startProxyReader, type ProxyReader } from '../helpers/proxy-protocol';
import { missingNginxStream, missingServers, startHaproxy, startNginx, type PeerProcess } from '../helpers/servers';
import { startTestWeir, tempDir, waitFor, type TestWeir } from '../helpers/weir';
import { pem } from '../tls/fixtures';

const skip = missingServers('haproxy') ?? missingNginxStream();

/** Send "ping" from `from` (a 127.0.0.x address), read until the echo came back, close; the client's port and the reply. */
function ping(port: number, from: string, viaTls: string | null = null): Promise<{ reply: string; localPort: number }> {
  return new Promise((resolve) => {
    const opts = { port, host: '127.0.0.1', localAddress: from };
    const s: net.Socket = viaTls === null ? net.connect(opts) : tls.connect({ ...opts, servername: viaTls, rejectUnauthorized: false });
    let reply = '';
    let localPort = 0;
    const timer = setTimeout(() => s.destroy(), 5000);
    s.once(viaTls === null ? 'connect' : 'secureConnect', () => {
      localPort = s.localPort!;
      s.write('ping');
    });
    s.on('data', (d: Buffer) => {
      reply += d;
      if (reply.endsWith('ping')) s.end();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, localPort });
    });
  });
}

describe('PROXY protocol with HAProxy and nginx', { skip: skip ?? false, timeout: 90_000 }, () => {
  const dir = tempDir('weir-pp-peers-');
  let weir: TestWeir;
  let strict: TestWeir;
  let haproxy: PeerProcess;
  let nginx: PeerProcess;
  let a: TestServer;
  let echo: TestServer;
  let reader: ProxyReader;
  const p: Record<string, number> = {};

  before(async () => {
    configureErrorLog({ sink: () => {} });
    a = await startEchoServer('A:');
    echo = await startEchoServer();
    reader = await startProxyReader('r');
    for (const name of ['wPp', 'wPpSsl', 'wV1', 'wV2', 'wTls', 'wNgx1', 'wNgx2', 'sPp', 'hV1', 'hV2', 'hSsl', 'hRefused', 'hBack', 'nBack']) p[name] = await freePort();
    weir = await startTestWeir([
      `{addr: "127.0.0.1:${p.wPp}", proxy_protocol: true}`,
      `{addr: "127.0.0.1:${p.wPpSsl}", proxy_protocol: true}`,
      `{addr: "127.0.0.1:${p.wV1}", proxy_protocol_to_upstream: true}`,
      `"127.0.0.1:${p.wV2}"`,
      `{addr: "127.0.0.1:${p.wTls}", tls: true}`,
      `"127.0.0.1:${p.wNgx1}"`,
      `"127.0.0.1:${p.wNgx2}"`,
    ], { extraYaml: '  stream:\n    real_ip_from: ["127.0.0.0/8"]' });
    strict = await startTestWeir([`{addr: "127.0.0.1:${p.sPp}", proxy_protocol: true}`], { extraYaml: '  stream:\n    real_ip_from: ["10.0.0.0/8"]' });
    const put = async (w: TestWeir, path: string, body: unknown): Promise<void> => {
      const r = await w.admin('PUT', path, body);
      assert.ok(r.status === 200 || r.status === 201, `${path}: ${JSON.stringify(r.body)}`);
    };
    const to = (port: number, extra: Record<string, unknown> = {}) => ({ nodes: { [`127.0.0.1:${port}`]: 1 }, ...extra });
    const v2 = { proxy_protocol: { version: 2, tlvs: ['authority', 'unique_id'] } };
    await put(weir, '/apisix/admin/ssls/1', { ...pem.a, snis: ['a.test.com'] });
    // in front: the client HAProxy saw picks the route
    await put(weir, '/apisix/admin/stream_routes/front-5', { server_port: p.wPp, remote_addr: '127.0.0.5', upstream: to(a.port) });
    await put(weir, '/apisix/admin/stream_routes/front-other', { server_port: p.wPp, upstream: to(echo.port) });
    await put(weir, '/apisix/admin/stream_routes/front-ssl', { server_port: p.wPpSsl, upstream: to(reader.port, { proxy_protocol: { version: 2, tlvs: ['ssl', 'authority'] } }) });
    // behind: v1 from the listener (APISIX's proxy_protocol_to_upstream), v2 with TLVs from the upstream
    await put(weir, '/apisix/admin/stream_routes/back-v1', { server_port: p.wV1, upstream: to(p.hBack!) });
    await put(weir, '/apisix/admin/stream_routes/back-v2', { server_port: p.wV2, upstream: to(p.hBack!, v2) });
    await put(weir, '/apisix/admin/stream_routes/back-tls', { server_port: p.wTls, upstream: to(p.hBack!, v2) });
    await put(weir, '/apisix/admin/stream_routes/ngx-v1', { server_port: p.wNgx1, upstream: to(p.nBack!, { proxy_protocol: { version: 1 } }) });
    await put(weir, '/apisix/admin/stream_routes/ngx-v2', { server_port: p.wNgx2, upstream: to(p.nBack!, { proxy_protocol: { version: 2 } }) });
    await put(strict, '/apisix/admin/stream_routes/any', { upstream: to(echo.port) });

    const combined = join(dir.path, 'a.pem');
    writeFileSync(combined, pem.a.cert + pem.a.key);
    const front = (name: string, port: number, to: number, send: string, bind = '') =>
      `listen ${name}\n  bind 127.0.0.1:${port}${bind}\n  server weir 127.0.0.1:${to} ${send}\n`;
    haproxy = await startHaproxy(
      [
        'global',
        '  log stdout format raw local0',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        front('v1', p.hV1!, p.wPp!, 'send-proxy'),
        front('v2', p.hV2!, p.wPp!, 'send-proxy-v2'),
        front('ssl', p.hSsl!, p.wPpSsl!, 'send-proxy-v2-ssl proxy-v2-options ssl-cipher,authority', ` ssl crt ${combined}`),
        front('refused', p.hRefused!, p.sPp!, 'send-proxy-v2'),
        'frontend back',
        `  bind 127.0.0.1:${p.hBack} accept-proxy`,
        '  log global',
        '  log-format "pp client=%ci:%cp authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]"',
        '  default_backend echo',
        'backend echo',
        `  server e 127.0.0.1:${echo.port}`,
        '',
      ].join('\n'),
      dir.path,
      [p.hV1!, p.hV2!, p.hSsl!, p.hRefused!, p.hBack!],
    );
    nginx = await startNginx(
      [
        "  log_format pp 'pp client=$proxy_protocol_addr:$proxy_protocol_port peer=$remote_addr';",
        `  access_log ${join(dir.path, 'nginx-access.log')} pp;`,
        `  server { listen 127.0.0.1:${p.nBack} proxy_protocol; proxy_pass 127.0.0.1:${echo.port}; }`,
      ].join('\n'),
      dir.path,
      [p.nBack!],
    );
  });
  after(async () => {
    await haproxy?.stop();
    await nginx?.stop();
    await weir?.stop();
    await strict?.stop();
    await a?.close();
    await echo?.close();
    await reader?.close();
    dir.remove();
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
  });

  /** weir's record of the connection from `client` ("ip:port"). */
  async function recordOf(w: TestWeir, client: string) {
    await waitFor(() => w.access.some((r) => r.client === client), 5000, `the record of ${client}`);
    return w.access.find((r) => r.client === client)!;
  }

  for (const [name, key] of [['send-proxy (v1)', 'hV1'], ['send-proxy-v2', 'hV2']] as const) {
    it(`HAProxy ${name} in front: weir routes on the client HAProxy saw and logs it, HAProxy as proxy_peer`, async () => {
      const five = await ping(p[key]!, '127.0.0.5');
      assert.equal(five.reply, 'A:ping');
      const rec = await recordOf(weir, `127.0.0.5:${five.localPort}`);
      assert.deepEqual([rec.route, rec.end], ['front-5', 'closed']);
      assert.match(rec.proxy_peer!, /^127\.0\.0\.1:\d+$/);
      const other = await ping(p[key]!, '127.0.0.9');
      assert.equal(other.reply, 'ping');
      assert.equal((await recordOf(weir, `127.0.0.9:${other.localPort}`)).route, 'front-other');
    });
  }

  it('HAProxy send-proxy-v2-ssl in front: its SSL TLV and authority pass on through weir to the next backend', async () => {
    const n = reader.conns.length;
    const { reply, localPort } = await ping(p.hSsl!, '127.0.0.7', 'a.test.com');
    assert.equal(reply, 'r:ping');
    const h = reader.conns[n]!.header!;
    assert.deepEqual([h.version, h.src, h.srcPort], [2, '127.0.0.7', localPort]);
    const ssl = h.tlvs.find(([t]) => t === 0x20)![1];
    assert.equal(ssl[0]! & 1, 1, 'PP2_CLIENT_SSL');
    assert.match(ssl.toString('latin1'), /TLSv1\.[23]/);
    assert.equal(h.tlvs.find(([t]) => t === 0x02)?.[1].toString(), 'a.test.com');
  });

  it('HAProxy behind weir (accept-proxy) logs the original client for v1 and v2, and the authority and unique_id TLVs', async () => {
    const v1 = await ping(p.wV1!, '127.0.0.11');
    const v2 = await ping(p.wV2!, '127.0.0.12');
    const viaTls = await ping(p.wTls!, '127.0.0.13', 'a.test.com');
    for (const r of [v1, v2, viaTls]) assert.equal(r.reply, 'ping');
    const id2 = (await recordOf(weir, `127.0.0.12:${v2.localPort}`)).id;
    const id3 = (await recordOf(weir, `127.0.0.13:${viaTls.localPort}`)).id;
    await waitFor(() => haproxy.output().includes(`127.0.0.13:${viaTls.localPort}`), 5000, 'the HAProxy log lines');
    const lines = haproxy.output().split('\n').filter((l) => l.startsWith('pp '));
    assert.ok(lines.includes(`pp client=127.0.0.11:${v1.localPort} authority=- uid=-`), lines.join('\n'));
    assert.ok(lines.includes(`pp client=127.0.0.12:${v2.localPort} authority=- uid=${id2}`), lines.join('\n'));
    assert.ok(lines.includes(`pp client=127.0.0.13:${viaTls.localPort} authority=a.test.com uid=${id3}`), lines.join('\n'));
  });

  it('nginx behind weir (listen ... proxy_protocol) sees the original client in $proxy_protocol_addr, v1 and v2', async () => {
    const v1 = await ping(p.wNgx1!, '127.0.0.21');
    const v2 = await ping(p.wNgx2!, '127.0.0.22');
    assert.deepEqual([v1.reply, v2.reply], ['ping', 'ping']);
    const log = join(dir.path, 'nginx-access.log');
    const read = (): string => {
      try {
        return readFileSync(log, 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor(() => read().includes('127.0.0.22'), 5000, 'the nginx log lines');
    const lines = read().trim().split('\n');
    assert.ok(lines.includes(`pp client=127.0.0.21:${v1.localPort} peer=127.0.0.1`), lines.join('\n'));
    assert.ok(lines.includes(`pp client=127.0.0.22:${v2.localPort} peer=127.0.0.1`), lines.join('\n'));
  });

  it('a weir whose real_ip_from leaves HAProxy out refuses its header and forwards nothing', async () => {
    const accepted = echo.accepted;
    const { reply } = await ping(p.hRefused!, '127.0.0.31');
    assert.equal(reply, '');
    await waitFor(() => strict.access.length > 0, 5000, 'the refusal record');
    const rec = strict.access[strict.access.length - 1]!;
    assert.deepEqual([rec.end, rec.error, rec.route], ['proxy_protocol_untrusted', 'peer 127.0.0.1 is not in nginx_config.stream.real_ip_from', null]);
    assert.equal(echo.accepted, accepted);
  });
});
