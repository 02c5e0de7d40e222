// Admin API gatekeeping: the allow list (pure table cases + one real 403), API keys (query, header,
// cookie; missing/wrong/viewer), admin_key_required false, HEAD without auth, CORS, stream mode off.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileAllowList, compileKeyChecker, cookieToken, pickToken } from '../../src/admin/auth';
import { UPSTREAM } from '../objects/fixtures';
import { ADMIN_KEY, KEYS, VIEWER_KEY, startAdmin, testConfig, type AdminHarness } from './harness';

const A = '/apisix/admin';

describe('compileAllowList', () => {
  const cases: [string[], string, boolean][] = [
    [['127.0.0.0/24'], '127.0.0.1', true],
    [['127.0.0.0/24'], '::ffff:127.0.0.1', true], // dual-stack socket reporting an IPv4 peer
    [['127.0.0.0/24'], '127.0.1.1', false],
    [['127.0.0.0/24'], '::1', false],
    [['10.0.0.0/8', '192.168.1.7'], '10.255.0.1', true],
    [['10.0.0.0/8', '192.168.1.7'], '192.168.1.7', true],
    [['10.0.0.0/8', '192.168.1.7'], '192.168.1.8', false],
    [['::1'], '::1', true],
    [['fd00::/8'], 'fd12::5', true],
    [['fd00::/8'], 'fe80::1', false],
    [['0.0.0.0/0'], '8.8.8.8', true],
    [['0.0.0.0/0'], '2001:db8::1', false],
    [['::/0'], '2001:db8::1', true],
    [['127.0.0.0/25'], '127.0.0.127', true],
    [['127.0.0.0/25'], '127.0.0.128', false],
    [[], '203.0.113.9', true], // no allow list: everyone
    [['127.0.0.0/24'], '', false],
    [['127.0.0.0/24'], 'not-an-ip', false],
    [['bogus', '127.0.0.1'], '127.0.0.1', true], // a bad entry is skipped, not fatal
  ];
  for (const [allow, ip, want] of cases) {
    it(`${JSON.stringify(allow)} ${want ? 'allows' : 'denies'} "${ip}"`, () => {
      assert.equal(compileAllowList(allow)(ip), want);
    });
  }
});

describe('token extraction and key check (pure)', () => {
  it('prefers query, then header, then cookie; an empty query value still wins', () => {
    assert.equal(pickToken({ query: 'q', header: 'h', cookie: 'x_api_key=c' }), 'q');
    assert.equal(pickToken({ query: null, header: 'h', cookie: 'x_api_key=c' }), 'h');
    assert.equal(pickToken({ query: null, header: null, cookie: 'a=1; x_api_key=c; b=2' }), 'c');
    assert.equal(pickToken({ query: '', header: 'h', cookie: null }), '');
    assert.equal(pickToken({ query: null, header: null, cookie: 'other=1' }), null);
    assert.equal(cookieToken('x_api_key_2=no'), null);
  });

  it('checks keys and roles', () => {
    const check = compileKeyChecker(KEYS);
    assert.equal(check.check(null, 'GET'), 'missing apikey');
    assert.equal(check.check('nope', 'GET'), 'wrong apikey');
    assert.equal(check.check('', 'GET'), 'wrong apikey');
    assert.equal(check.check(ADMIN_KEY, 'DELETE'), null);
    assert.equal(check.check(VIEWER_KEY, 'GET'), null);
    assert.equal(check.check(VIEWER_KEY, 'PUT'), 'invalid method for role viewer');
    assert.equal(check.check(ADMIN_KEY.slice(0, -1), 'GET'), 'wrong apikey');
  });
});

describe('Admin API auth over HTTP', () => {
  let h: AdminHarness;
  before(async () => {
    h = await startAdmin();
  });
  after(async () => {
    await h.close();
  });

  it('401 missing apikey / wrong apikey', async () => {
    const missing = await h.call('GET', `${A}/upstreams`, undefined, null);
    assert.deepEqual([missing.status, missing.json], [401, { error_msg: 'failed to check token', description: 'missing apikey' }]);
    const wrong = await h.call('GET', `${A}/upstreams`, undefined, 'bad');
    assert.deepEqual([wrong.status, wrong.json], [401, { error_msg: 'failed to check token', description: 'wrong apikey' }]);
  });

  it('api_key query and x_api_key cookie are accepted', async () => {
    const q = await h.call('GET', `${A}/upstreams?api_key=${ADMIN_KEY}`, undefined, null);
    assert.equal(q.status, 200);
    const c = await h.call('GET', `${A}/upstreams`, undefined, null, { Cookie: `x_api_key=${ADMIN_KEY}` });
    assert.equal(c.status, 200);
    // the query wins over a correct header
    const both = await h.call('GET', `${A}/upstreams?api_key=bad`, undefined, ADMIN_KEY);
    assert.equal(both.status, 401);
  });

  it('a viewer may GET but not write', async () => {
    assert.equal((await h.call('GET', `${A}/upstreams`, undefined, VIEWER_KEY)).status, 200);
    const put = await h.call('PUT', `${A}/upstreams/1`, UPSTREAM, VIEWER_KEY);
    assert.deepEqual([put.status, put.json], [
      401,
      { error_msg: 'failed to check token', description: 'invalid method for role viewer' },
    ]);
    assert.equal(h.t.store.get('upstreams', '1'), undefined);
  });

  it('HEAD /apisix/admin is 200 without a key', async () => {
    const r = await h.call('HEAD', A, undefined, null);
    assert.deepEqual([r.status, r.text], [200, '']);
  });

  it('CORS: preflight headers, and Allow-Origin/Expose-Headers on answers', async () => {
    const pre = await h.call('OPTIONS', `${A}/upstreams`, undefined, null);
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'POST, GET, PUT, OPTIONS, DELETE, PATCH');
    assert.equal(pre.headers.get('access-control-max-age'), '3600');
    assert.equal(pre.headers.get('access-control-allow-headers'), '*');
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    const get = await h.call('GET', `${A}/upstreams`);
    assert.equal(get.headers.get('access-control-allow-origin'), '*');
    assert.equal(get.headers.get('access-control-expose-headers'), '*');
  });

  it('an unsupported method on a resource is 404 not found', async () => {
    const r = await h.call('PURGE', `${A}/upstreams/1`);
    assert.deepEqual([r.status, r.json], [404, { error_msg: 'not found' }]);
    const outside = await h.call('GET', '/elsewhere');
    assert.deepEqual([outside.status, outside.json], [404, { error_msg: 'not found' }]);
  });
});

describe('Admin API with other settings', () => {
  const started: AdminHarness[] = [];
  after(async () => {
    for (const h of started) await h.close();
  });
  const start = async (...args: Parameters<typeof startAdmin>) => {
    const h = await startAdmin(...args);
    started.push(h);
    return h;
  };

  it('a client outside allow_admin gets 403 before auth (even HEAD)', async () => {
    const h = await start(testConfig({ allow: ['10.0.0.0/8'] }));
    for (const [method, key] of [['GET', null], ['HEAD', null], ['GET', ADMIN_KEY]] as const) {
      const r = await h.call(method, method === 'HEAD' ? A : `${A}/upstreams`, undefined, key);
      assert.equal(r.status, 403);
      if (method !== 'HEAD') assert.deepEqual(r.json, { error_msg: 'forbidden: 127.0.0.1 is not in deployment.admin.allow_admin' });
    }
  });

  it('admin_key_required false: no key needed', async () => {
    const h = await start(testConfig({ keyRequired: false }));
    assert.equal((await h.call('PUT', `${A}/upstreams/1`, UPSTREAM, null)).status, 201);
  });

  it('no CORS headers when enable_admin_cors is false', async () => {
    const h = await start(testConfig({ cors: false }));
    const r = await h.call('GET', `${A}/upstreams`);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });

  it('pinned 8: stream mode off makes every stream_routes call 400; other resources work', async () => {
    const h = await start(testConfig({}, false));
    const msg = { error_msg: 'stream mode is disabled, can not add stream routes' };
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const r = await h.call(method, `${A}/stream_routes/1`, method === 'PUT' ? { upstream: UPSTREAM } : undefined);
      assert.deepEqual([method, r.status, r.json], [method, 400, msg]);
    }
    assert.equal((await h.call('GET', `${A}/stream_routes`)).status, 400);
    assert.equal((await h.call('GET', `${A}/upstreams`)).status, 200);
  });
});
