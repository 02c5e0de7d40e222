// The examples of APISIX's stream-proxy guide, run as written (curl bodies verbatim; only ports are ephemeral).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, startEchoServer, startServer, exchange, type TestServer } from '../helpers/net';
import { startTestWeir, DOC_KEY, type TestWeir } from '../helpers/weir';

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
