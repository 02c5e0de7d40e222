// The examples of APISIX's stream-proxy guide, run as written (curl bodies verbatim; only ports are ephemeral).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { freePort, startEchoServer, startServer, exchange, type TestServer } from '../helpers/net';
import { startTestWeir, DOC_KEY, type TestWeir } from '../helpers/weir';
import { fixture } from '../tls/fixtures';

const run = promisify(execFile);

/** The guide's curl command, with the admin port and upstream port swapped for ephemeral ones. */
async function curlPut(w: TestWeir, path: string, body: string): Promise<{ status: number; json: any }> {
  const { stdout } = await run('curl', [
    '-sS', '-w', '\n%{http_code}',
    `${w.adminUrl}${path}`, '-H', `X-API-KEY: ${DOC_KEY}`, '-X', 'PUT', '-d', body,
  ]);
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), json: JSON.parse(stdout.slice(0, nl)) };
}

describe('APISIX stream-proxy guide: remote_addr route', () => {
  let w: TestWeir;
  let upstream: TestServer;
  let port: number;

  before(async () => {
    upstream = await startEchoServer('hello ');
    port = await freePort();
    w = await startTestWeir([String(port), `"127.0.0.1:${await freePort()}"`]);
  });
  after(async () => {
    await w?.stop();
    await upstream?.close();
  });

  it('forwards a client from 127.0.0.1 to the upstream', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "remote_addr": "127.0.0.1",
    "upstream": {
        "nodes": {
            "127.0.0.1:${upstream.port}": 1
        },
        "type": "roundrobin"
    }
}`);
    assert.equal(res.status, 201);
    assert.equal(res.json.key, '/apisix/stream_routes/1');
    assert.equal(res.json.value.remote_addr, '127.0.0.1');
    const { data } = await exchange(port, 'world');
    assert.equal(data.toString(), 'hello world');
  });

  it('closes the same client with no data once the route asks for 127.0.0.2', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "remote_addr": "127.0.0.2",
    "upstream": { "nodes": { "127.0.0.1:${upstream.port}": 1 }, "type": "roundrobin" }
}`);
    assert.equal(res.status, 200);
    const before = upstream.accepted;
    const { data, closedBy } = await exchange(port, 'world');
    assert.equal(data.length, 0);
    assert.notEqual(closedBy, 'timeout');
    assert.equal(upstream.accepted, before, 'no upstream connection was made');
    assert.equal(w.access.at(-1)?.end, 'no_route');
  });
});

describe('APISIX stream-proxy guide: server_addr + server_port route', () => {
  let w: TestWeir;
  let upstream: TestServer;
  let anyPort: number;
  let localPort: number;

  before(async () => {
    upstream = await startEchoServer('hello ');
    anyPort = await freePort();
    localPort = await freePort();
    w = await startTestWeir([String(anyPort), `"127.0.0.1:${localPort}"`]);
  });
  after(async () => {
    await w?.stop();
    await upstream?.close();
  });

  it('forwards only connections that arrive on 127.0.0.1 at the named port', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "server_addr": "127.0.0.1",
    "server_port": ${localPort},
    "upstream": {
        "nodes": {
            "127.0.0.1:${upstream.port}": 1
        },
        "type": "roundrobin"
    }
}`);
    assert.equal(res.status, 201);
    assert.equal((await exchange(localPort, 'a')).data.toString(), 'hello a');
    // the other listener (0.0.0.0) does not match server_port
    assert.equal((await exchange(anyPort, 'b')).data.length, 0);
  });
});

describe('APISIX stream-proxy guide: two listeners, server filter (the MySQL example)', () => {
  let w: TestWeir;
  let mysqlLike: TestServer;
  let port9100: number;
  let port9101: number;

  before(async () => {
    // Like MySQL, the server speaks first: a greeting packet right after the connection opens.
    mysqlLike = await startServer((s) => {
      s.write('GREETING 8.0\n');
      s.on('data', (d) => s.write(`OK ${d}`));
      s.on('end', () => s.end());
    });
    port9100 = await freePort();
    port9101 = await freePort('127.0.0.10');
    w = await startTestWeir([`${port9100} # by default uses 0.0.0.0`, `"127.0.0.10:${port9101}"`]);
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
   {
       "server_addr": "127.0.0.10",
       "server_port": ${port9101},
       "upstream": {
           "nodes": {
               "127.0.0.1:${mysqlLike.port}": 1
           },
           "type": "roundrobin"
       }
   }`);
    assert.equal(res.status, 201);
  });
  after(async () => {
    await w?.stop();
    await mysqlLike?.close();
  });

  it('the 0.0.0.0 listener matches nothing: the client loses the connection before the greeting', async () => {
    const { data, closedBy } = await exchange(port9100, '', { host: '127.0.0.1' });
    assert.equal(data.length, 0);
    assert.notEqual(closedBy, 'timeout');
  });

  it('127.0.0.10 at the second port reaches the server and gets its greeting', async () => {
    const { data } = await exchange(port9101, 'login', { host: '127.0.0.10' });
    assert.equal(data.toString(), 'GREETING 8.0\nOK login');
  });
});

// ---------------------------------------------------------------- "接收 TLS over TCP 连接" and "代理到 TLS over TCP 上游"

const pem = fixture;

/** A TLS client with SNI `servername` that sends `payload`, half-closes and collects the reply. */
function tlsExchange(port: number, servername: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = tls.connect({ port, host: '127.0.0.1', servername, ca: pem('ca.crt') }, () => {
      sock.end(payload);
    });
    const timer = setTimeout(() => sock.destroy(new Error('no reply within 3 s')), 3000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

describe('APISIX stream-proxy guide: TLS over TCP', () => {
  let w: TestWeir;
  let first: TestServer;
  let second: TestServer;
  let tlsUpstream: tls.Server;
  let tlsUpstreamPort: number;
  let tlsPort: number;
  let plainPort: number;

  before(async () => {
    first = await startEchoServer('1995 ');
    second = await startEchoServer('5991 ');
    // an upstream that terminates TLS itself and tells which SNI the proxy sent
    tlsUpstream = tls.createServer({ cert: pem('a.test.com.crt'), key: pem('a.test.com.key') }, (s) => {
      s.end(`sni=${(s as tls.TLSSocket & { servername?: string | false }).servername}`);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => tlsUpstream.listen(0, '127.0.0.1', resolve));
    tlsUpstreamPort = (tlsUpstream.address() as AddressInfo).port;
    tlsPort = await freePort();
    plainPort = await freePort();
    // the guide's listener item: `- addr: 9100` + `tls: true`
    w = await startTestWeir([`{ addr: "127.0.0.1:${tlsPort}", tls: true }`, `"127.0.0.1:${plainPort}"`]);
    const ssl = await curlPut(w, '/apisix/admin/ssls/1', JSON.stringify({
      cert: pem('a.test.com.crt'),
      key: pem('a.test.com.key'),
      snis: ['a.test.com'],
    }));
    assert.equal(ssl.status, 201);
    assert.equal(ssl.json.value.key, undefined, 'the private key is never returned');
  });
  after(async () => {
    await w?.stop();
    await first?.close();
    await second?.close();
    await new Promise<void>((resolve) => (tlsUpstream ? tlsUpstream.close(() => resolve()) : resolve()));
  });

  it('terminates TLS for a route without sni and proxies the plaintext', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "upstream": {
        "nodes": {
            "127.0.0.1:${first.port}": 1
        },
        "type": "roundrobin"
    }
}`);
    assert.equal(res.status, 201);
    assert.equal(await tlsExchange(tlsPort, 'a.test.com', 'hi'), '1995 hi');
  });

  it('routes by the SNI the client sent in its handshake', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "sni": "a.test.com",
    "upstream": {
        "nodes": {
            "127.0.0.1:${second.port}": 1
        },
        "type": "roundrobin"
    }
}`);
    assert.equal(res.status, 200);
    assert.equal(await tlsExchange(tlsPort, 'a.test.com', 'hi'), '5991 hi');
    // a plain connection has no SNI: the route does not match it
    assert.equal((await exchange(plainPort, 'x')).data.length, 0);
  });

  it('speaks TLS to a scheme tls upstream, passing the client SNI on, else "apisix_backend"', async () => {
    const res = await curlPut(w, '/apisix/admin/stream_routes/1', `
{
    "upstream": {
        "scheme": "tls",
        "nodes": {
            "127.0.0.1:${tlsUpstreamPort}": 1
        },
        "type": "roundrobin"
    }
}`);
    assert.equal(res.status, 200);
    assert.equal(await tlsExchange(tlsPort, 'a.test.com', ''), 'sni=a.test.com');
    assert.equal((await exchange(plainPort, '')).data.toString(), 'sni=apisix_backend');
  });
});
