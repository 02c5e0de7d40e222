// Runtime selection seams that load code lazily or touch the heap: serveHttp (node:http imported on demand)
// and releaseIdleMemory (a full GC plus Bun.shrink() on Bun, nothing elsewhere). Under node (npm test) this
// file also runs itself with `bun test` for the Bun cases.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { runUnderBun } from '../helpers/bun';
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
  if (detectRuntime() === 'bun') {
    it('runs a full collection: the unreachable is gone, the live is intact, call after call', async () => {
      const live = liveData();
      const before = digest(live);
      const refs = garbage(100);
      await new Promise((r) => setTimeout(r, 0)); // a new job: nothing of garbage() is on the stack any more
      assert.equal(refs.filter((r) => r.deref() === undefined).length, 0, 'collected before the call');
      for (let round = 0; round < 3; round++) releaseIdleMemory({}); // with the code trim (Bun on Linux)
      assert.equal(refs.filter((r) => r.deref() === undefined).length, refs.length, 'not collected by the call');
      assert.equal(digest(live), before);
    });
  } else {
    it('calls Bun.gc(true), then Bun.shrink(), when Bun is there (a stand-in here; the real one under bun test)', () => {
      const calls: string[] = [];
      const g = globalThis as { Bun?: unknown };
      g.Bun = { gc: (sync: boolean) => calls.push(`gc(${sync})`), shrink: () => calls.push('shrink()') };
      try {
        releaseIdleMemory({ WEIR_TRIM_CODE: '0' }); // no trim: bun:ffi does not exist here
      } finally {
        delete g.Bun;
      }
      assert.deepEqual(calls, ['gc(true)', 'shrink()']);
    });

    it('collects and keeps live objects under bun test', { timeout: 60_000 }, async () => {
      const r = await runUnderBun('test/runtime/index.test.ts', 50_000);
      assert.equal(r.fail, 0, r.output);
      // serveHttp, the collection case, the no-op case
      assert.equal(r.pass, 3, r.output);
      assert.equal(r.code, 0, r.output);
    });
  }

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

/** Objects that stay reachable: strings, numbers and typed arrays, 1000 of each. */
function liveData(): Array<{ i: number; s: string; bytes: Uint8Array }> {
  return Array.from({ length: 1000 }, (_, i) => ({ i, s: `v${i}`.repeat(1 + (i % 7)), bytes: new Uint8Array(64).fill(i & 0xff) }));
}

function digest(data: ReturnType<typeof liveData>): string {
  const h = createHash('sha256');
  for (const o of data) h.update(`${o.i}:${o.s}:`).update(o.bytes);
  return h.digest('hex');
}

/** 100 objects nothing refers to once this returns, behind weak references. */
function garbage(n: number): Array<WeakRef<object>> {
  return Array.from({ length: n }, (_, i) => new WeakRef({ i, pad: new Array(64).fill(i) }));
}
