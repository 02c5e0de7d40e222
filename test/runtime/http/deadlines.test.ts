// Admin request deadlines against slow clients: a request whose headers or body stall is answered 408 and
// closed at its deadline (node:http enforces both; the native servers' body deadline lives in readCappedBody).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serveNodeHttp } from '../../../src/runtime/http/node';
import { BodyTimeoutError, HEADERS_TIMEOUT_MS, readCappedBody, REQUEST_TIMEOUT_MS } from '../../../src/runtime/http/common';
import type { HttpServerHandle } from '../../../src/runtime/types';

/** Send `head`, then nothing; resolve with what came back and when the server closed. */
function stall(port: number, head: string): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => {});
    s.on('close', () => resolve({ text, ms: Date.now() - t0 }));
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

describe('admin request deadlines', () => {
  let server: HttpServerHandle;

  before(async () => {
    server = await serveNodeHttp(async (req) => new Response(String((await req.arrayBuffer()).byteLength)), {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1024,
      headersTimeoutMs: 300,
      requestTimeoutMs: 800,
    });
  });
  after(() => server.close());

  it('ships 10 s for headers and 30 s for the whole request', () => {
    assert.equal(HEADERS_TIMEOUT_MS, 10_000);
    assert.equal(REQUEST_TIMEOUT_MS, 30_000);
  });

  it('cuts a client whose headers stall (408), within the check interval', async () => {
    const r = await stall(server.port, 'GET /apisix/admin/routes HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.ok(r.ms >= 250 && r.ms < 2500, `closed after ${r.ms} ms`);
  });

  it('cuts a client whose body stalls (408)', async () => {
    const r = await stall(server.port, 'PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.ok(r.ms >= 700 && r.ms < 3000, `closed after ${r.ms} ms`);
  });

  it('readCappedBody gives up on a stalled stream', async () => {
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array([1, 2])) });
    await assert.rejects(readCappedBody(body, 100, 50), (err) => err instanceof BodyTimeoutError);
  });
});
