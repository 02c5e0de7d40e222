// Runtime selection seams that load code lazily or touch the heap: serveHttp (node:http imported on demand)
// and releaseIdleMemory (a full GC plus Bun.shrink() on Bun, nothing elsewhere). Runs under Node and Bun.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectRuntime, releaseIdleMemory, serveHttp } from '../../src/runtime/index';
import type { HttpServerHandle } from '../../src/runtime/types';

describe('serveHttp', () => {
  let server: HttpServerHandle;

  before(async () => {
    server = await serveHttp(
      async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${(await req.text()).length}`, { status: 201 }),
      { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 },
    );
  });

  after(async () => {
    await server.close();
  });

  it('serves the handler on an ephemeral port (the adapter module is loaded on first use)', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0 && server.port < 65536, `port ${server.port}`);
    const res = await fetch(`http://127.0.0.1:${server.port}/apisix/admin/ssls`, { method: 'PUT', body: 'abcdef' });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), 'PUT /apisix/admin/ssls 6');
  });
});

describe('releaseIdleMemory', () => {
  it('keeps live objects intact and can be called repeatedly', () => {
    const live = Array.from({ length: 1000 }, (_, i) => ({ i, s: `v${i}` }));
    for (let round = 0; round < 3; round++) releaseIdleMemory();
    assert.equal(live.length, 1000);
    assert.deepEqual(live[999], { i: 999, s: 'v999' });
  });

  it('is a no-op outside Bun and uses Bun.gc/Bun.shrink under Bun', () => {
    const g = globalThis as { Bun?: { gc?: unknown; shrink?: unknown } };
    if (detectRuntime() === 'bun') {
      assert.equal(typeof g.Bun?.gc, 'function');
      assert.equal(typeof g.Bun?.shrink, 'function');
    } else {
      assert.equal(g.Bun, undefined);
    }
    assert.equal(releaseIdleMemory(), undefined);
  });
});
