// node:http adapter: request mapping, capped body buffering, remote address, EADDRINUSE, close().

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { serveNodeHttp } from '../../../src/runtime/http/node';
import type { HttpServerHandle, RequestInfo } from '../../../src/runtime/types';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  bodyLength: number;
  body: string;
  info: RequestInfo;
}

describe('serveNodeHttp', () => {
  let server: HttpServerHandle;
  let base: string;
  const seen: Seen[] = [];

  before(async () => {
    server = await serveNodeHttp(
      async (req, info) => {
        const bytes = new Uint8Array(await req.arrayBuffer());
        seen.push({
          method: req.method,
          url: req.url,
          headers: Object.fromEntries(req.headers),
          bodyLength: bytes.byteLength,
          body: new TextDecoder().decode(bytes.subarray(0, 64)),
          info,
        });
        if (req.url.endsWith('/throw')) throw new Error('handler bug');
        return new Response(JSON.stringify({ ok: true, n: bytes.byteLength }), {
          status: req.method === 'POST' ? 201 : 200,
          headers: { 'Content-Type': 'application/json', 'X-API-VERSION': 'v3' },
        });
      },
      { host: '127.0.0.1', port: 0, maxBodyBytes: 1000 },
    );
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
  });

  it('reports the bound port and host', () => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
  });

  it('maps method, URL with query, headers, body and the peer address', async () => {
    const res = await fetch(`${base}/apisix/admin/upstreams?api_key=k&x=%3D`, {
      method: 'POST',
      headers: { 'X-API-KEY': 'abc', 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-api-version'), 'v3');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { ok: true, n: 7 });
    const last = seen.at(-1)!;
    assert.equal(last.method, 'POST');
    assert.equal(last.url, `http://127.0.0.1:${server.port}/apisix/admin/upstreams?api_key=k&x=%3D`);
    assert.equal(last.headers['x-api-key'], 'abc');
    assert.equal(last.body, '{"a":1}');
    assert.equal(last.info.remoteAddress.replace(/^::ffff:/, ''), '127.0.0.1');
  });

  it('hands over at most maxBodyBytes + 1 bytes of a large body, then still answers', async () => {
    const res = await fetch(`${base}/big`, { method: 'PUT', body: 'x'.repeat(5000) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, n: 1001 });
  });

  it('the unread rest of an oversized body is never parsed as a next request', async () => {
    // One socket only: the second request must not meet the first one's leftover bytes.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/seq', method: 'PUT', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const first = await send('z'.repeat(300_000));
      const second = await send('{"small":true}');
      assert.deepEqual(first, { status: 200, text: '{"ok":true,"n":1001}' });
      assert.deepEqual(second, { status: 200, text: '{"ok":true,"n":14}' });
    } finally {
      agent.destroy();
    }
  });

  it('keeps a body of exactly maxBodyBytes whole', async () => {
    const res = await fetch(`${base}/exact`, { method: 'PUT', body: 'y'.repeat(1000) });
    assert.deepEqual(await res.json(), { ok: true, n: 1000 });
  });

  it('HEAD gets status and headers but no body', async () => {
    const res = await fetch(`${base}/apisix/admin`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('a throwing handler gives a 500 JSON error, not a crash', async () => {
    const res = await fetch(`${base}/throw`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error_msg: 'internal error: handler bug' });
  });

  it('a "//host/path" request target stays a path on our host', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '//evil.test/x', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(seen.at(-1)!.url, `http://127.0.0.1:${server.port}//evil.test/x`);
  });

  it('rejects with EADDRINUSE when the port is taken', async () => {
    await assert.rejects(
      serveNodeHttp(() => new Response(null), { host: '127.0.0.1', port: server.port, maxBodyBytes: 10 }),
      (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
    );
  });
});

describe('serveNodeHttp close()', () => {
  it('closes idle keep-alive connections and frees the port', async () => {
    const server = await serveNodeHttp(() => new Response('{}'), { host: '127.0.0.1', port: 0, maxBodyBytes: 10 });
    const agent = new Agent({ keepAlive: true });
    let socketClosed = false;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/', agent }, (res) => {
        res.socket.once('close', () => {
          socketClosed = true;
        });
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const started = Date.now();
    await server.close();
    // Without closeAllConnections this would wait for the keep-alive timeout (5 s).
    assert.ok(Date.now() - started < 1000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(socketClosed, true);
    agent.destroy();
    // The port is free again.
    const again = await serveNodeHttp(() => new Response('{}'), { host: '127.0.0.1', port: server.port, maxBodyBytes: 10 });
    await again.close();
  });
});
