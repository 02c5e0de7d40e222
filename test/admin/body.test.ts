// Request bodies and failure mapping: invalid JSON, the 1 MiB limit (a 2 MiB upload), empty bodies,
// store failures (503) and unexpected errors (500, logged, never thrown out of the handler).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminApp } from '../../src/admin/app';
import { configureErrorLog } from '../../src/log/logger';
import type { Store } from '../../src/store/types';
import { UPSTREAM, tempStore, type TempStore } from '../objects/fixtures';
import { ADMIN_KEY, KEYS, startAdmin, testConfig, type AdminHarness } from './harness';

const A = '/apisix/admin';

describe('Admin API request bodies', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(async () => {
    await h.close();
  });

  it('invalid JSON: 400 invalid request body with the raw body echoed', async () => {
    const raw = '{"nodes": {"127.0.0.1:1995": 1},';
    const r = await h.call('PUT', `${A}/upstreams/1`, raw);
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.json).sort(), ['error_msg', 'req_body']);
    assert.match(r.json.error_msg, /^invalid request body: .+/);
    assert.equal(r.json.req_body, raw);
    assert.equal(h.t.store.get('upstreams', '1'), undefined);
  });

  it('a 2 MiB body is refused with a 400 naming the 1048576-byte limit; the server keeps working', async () => {
    const big = JSON.stringify({ ...UPSTREAM, desc: 'x'.repeat(2 * 1024 * 1024) });
    const r = await h.call('PUT', `${A}/upstreams/big`, big);
    assert.deepEqual([r.status, r.json], [
      400,
      { error_msg: 'invalid request body: request size is greater than the maximum size 1048576 allowed' },
    ]);
    assert.equal(h.t.store.get('upstreams', 'big'), undefined);
    assert.equal((await h.call('PUT', `${A}/upstreams/after`, UPSTREAM)).status, 201);
  });

  it('a body just under the limit is parsed (then judged by the schema)', async () => {
    const body = JSON.stringify({ ...UPSTREAM, desc: 'x' });
    const padded = body + ' '.repeat(1048576 - Buffer.byteLength(body));
    const r = await h.call('PUT', `${A}/upstreams/edge`, padded);
    assert.equal(r.status, 201);
  });

  it('an empty body: missing configurations (PUT/POST), missing new configuration (PATCH)', async () => {
    assert.deepEqual((await h.call('PUT', `${A}/upstreams/e`)).json, { error_msg: 'missing configurations' });
    assert.deepEqual((await h.call('POST', `${A}/upstreams`, '')).json, { error_msg: 'missing configurations' });
    await h.call('PUT', `${A}/upstreams/e`, UPSTREAM);
    const patch = await h.call('PATCH', `${A}/upstreams/e`);
    assert.deepEqual([patch.status, patch.json], [400, { error_msg: 'missing new configuration' }]);
  });
});

describe('Admin API failure mapping', () => {
  let t: TempStore;
  const logged: string[] = [];
  before(() => {
    t = tempStore('weir-admin-fail-');
    configureErrorLog({ sink: (text) => logged.push(text) });
  });
  after(() => {
    configureErrorLog({ sink: (text) => process.stderr.write(text) });
    t.close();
  });

  it('a failing store read is a 503 with the error text', async () => {
    const broken: Store = {
      ...t.store,
      list: () => {
        throw new Error('SQLITE_BUSY: database is locked');
      },
    };
    const app = createAdminApp({ store: broken, config: testConfig(), adminKeys: KEYS, onChange: () => {} });
    const res = await app(new Request(`http://x${A}/upstreams`, { headers: { 'X-API-KEY': ADMIN_KEY } }), {
      remoteAddress: '127.0.0.1',
    });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { error_msg: 'SQLITE_BUSY: database is locked' });
    assert.ok(logged.some((l) => l.includes('store read failed') && l.includes('SQLITE_BUSY')));
  });

  it('an unexpected error is a logged 500, never an exception', async () => {
    const app = createAdminApp({ store: t.store, config: testConfig(), adminKeys: KEYS, onChange: () => {} });
    const info = {
      get remoteAddress(): string {
        throw new Error('socket vanished');
      },
    };
    const res = await app(new Request(`http://x${A}/upstreams`), info);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error_msg: 'internal error: socket vanished' });
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.ok(logged.some((l) => l.includes('admin request failed') && l.includes('socket vanished')));
  });
});
