// limit-conn: APISIX's schema (the stream plugin's: key_type var / var_combination), resty.limit.conn's
// admission (conn admitted, burst delayed by default_conn_delay x floor((n-1)/conn), the rest refused with 503),
// counts given back in the log phase, keys per route and conf, and var_combination's empty key.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { burstDelayMs, limitConn } from '../../src/plugins/limit-conn';
import type { AccessVerdict, FilterConn, FinishedConn, StreamFilter } from '../../src/proxy/filter/types';
import { testConn } from './conn';
import { runConfTable, testContext } from './plugin.cases';

const BASE = { conn: 2, burst: 1, default_conn_delay: 0.1, key: 'remote_addr' };

describe('limit-conn: schema', () => {
  runConfTable('limit-conn', [
    ['limit-conn.t TEST 1: set route', { conn: 100, burst: 50, default_conn_delay: 0.1, key: 'remote_addr' }, null],
    ['limit-conn.t TEST 5: var combination', { ...BASE, key: '$remote_addr $server_addr', key_type: 'var_combination' }, null],
    ['only_use_default_delay', { ...BASE, only_use_default_delay: true }, null],
    ['burst 0', { ...BASE, burst: 0 }, null],
    ['missing conn', { burst: 1, default_conn_delay: 0.1, key: 'remote_addr' }, 'property "conn" is required'],
    ['missing key', { conn: 1, burst: 1, default_conn_delay: 0.1 }, 'property "key" is required'],
    ['conn 0', { ...BASE, conn: 0 }, 'property "conn" validation failed: expected 0 to be greater than 0'],
    ['conn 1.5', { ...BASE, conn: 1.5 }, 'property "conn" validation failed: wrong type: expected integer, got number'],
    ['burst -1', { ...BASE, burst: -1 }, 'property "burst" validation failed: expected -1 to be at least 0'],
    ['delay 0', { ...BASE, default_conn_delay: 0 }, 'property "default_conn_delay" validation failed: expected 0 to be greater than 0'],
    ['delay as text', { ...BASE, default_conn_delay: '1' }, 'property "default_conn_delay" validation failed: wrong type: expected number, got string'],
    ['key_type unknown', { ...BASE, key_type: 'constant' }, 'property "key_type" validation failed: matches none of the enum values'],
    ['only_use_default_delay text', { ...BASE, only_use_default_delay: 'yes' }, 'property "only_use_default_delay" validation failed: wrong type: expected boolean, got string'],
  ]);
});

describe('limit-conn: resty.limit.conn delay', () => {
  it('0 up to conn, then default_conn_delay per multiple of conn', () => {
    // conn 2, delay 0.1 s: counts 1 2 | 3 4 | 5 6
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => burstDelayMs(n, 2, 0.1)), [0, 0, 100, 100, 200, 200]);
  });
});

/** Run access; a promise (a delay) counts as "delayed". */
function admit(f: StreamFilter, c: FilterConn): 'ok' | 'delayed' | AccessVerdict {
  const v = f.access!(c);
  if (v instanceof Promise) return 'delayed';
  return v === undefined ? 'ok' : v;
}

function finished(c: FilterConn): FinishedConn {
  return { conn: c, info: c.info, route: c.route, node: null, startedAt: 0, bytesFromClient: 0, bytesToClient: 0, end: 'closed' };
}

describe('limit-conn: admission', () => {
  it('limit-conn.t TEST 4: conn 2 burst 1 -> two pass, one waits, the rest get 503; counts come back in log', async () => {
    const ctx = testContext();
    const f = limitConn.compile(BASE, ctx);
    const conns = [1, 2, 3, 4, 5].map(() => testConn());
    const verdicts = conns.map((c) => admit(f, c));
    assert.deepEqual(verdicts.slice(0, 3), ['ok', 'ok', 'delayed']);
    assert.deepEqual(verdicts[3], { code: 503, reason: 'limit-conn: over 3 connections (conn + burst) for key 127.0.0.1' });
    assert.deepEqual(verdicts[4], verdicts[3]);
    // only the three admitted hold a count; the refused ones give nothing back
    for (const c of conns) f.log!(finished(c));
    assert.equal(ctx.counters.size, 0);
    assert.equal(admit(f, testConn()), 'ok');
  });

  it('the delayed one goes on after default_conn_delay', async () => {
    const f = limitConn.compile({ conn: 1, burst: 1, default_conn_delay: 0.05, key: 'remote_addr' }, testContext());
    assert.equal(admit(f, testConn()), 'ok');
    const t0 = Date.now();
    assert.equal(await f.access!(testConn()), undefined);
    assert.ok(Date.now() - t0 >= 45);
  });

  it('counts are per key value: two clients have a limit each', () => {
    const f = limitConn.compile({ ...BASE, burst: 0, conn: 1 }, testContext());
    assert.equal(admit(f, testConn({ remoteAddr: '10.0.0.1' })), 'ok');
    assert.equal(admit(f, testConn({ remoteAddr: '10.0.0.2' })), 'ok');
    assert.equal((admit(f, testConn({ remoteAddr: '10.0.0.1' })) as { code: number }).code, 503);
  });

  it('limit-conn.t TEST 7: $remote_port $server_addr gives every connection its own key', () => {
    const f = limitConn.compile({ ...BASE, key: '$remote_port $server_addr', key_type: 'var_combination' }, testContext());
    const verdicts = [1, 2, 3, 4, 5].map((i) => admit(f, testConn({ remotePort: 40000 + i })));
    assert.deepEqual(verdicts, ['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('limit-conn.t TEST 10: a key with no variable set falls back to the client address', () => {
    const f = limitConn.compile({ ...BASE, key: '$proxy_protocol_addr $proxy_protocol_port', key_type: 'var_combination' }, testContext());
    const verdicts = [1, 2, 3, 4].map((i) => admit(f, testConn({ remotePort: 40000 + i })));
    assert.deepEqual(verdicts.slice(0, 3), ['ok', 'ok', 'delayed']);
    assert.equal((verdicts[3] as { code: number }).code, 503);
  });

  it('a key naming an unset variable (key_type var) falls back to the client address too', () => {
    const ctx = testContext();
    const f = limitConn.compile({ ...BASE, key: 'mqtt_client_id' }, ctx);
    const c = testConn();
    admit(f, c);
    assert.match(String(c.state['limit-conn']), /:127\.0\.0\.1$/);
    const d = testConn();
    d.setVar('mqtt_client_id', 'dev-1');
    admit(f, d);
    assert.match(String(d.state['limit-conn']), /:dev-1$/);
  });

  it('keys carry the route and the conf: a changed conf starts fresh counts, old connections give back theirs', () => {
    const ctx = testContext();
    const one = limitConn.compile({ ...BASE, conn: 1, burst: 0 }, ctx);
    const a = testConn();
    assert.equal(admit(one, a), 'ok');
    const two = limitConn.compile({ ...BASE, conn: 1, burst: 0, default_conn_delay: 0.2 }, ctx);
    assert.equal(admit(two, testConn()), 'ok', 'the new conf counts from zero');
    assert.match(String(a.state['limit-conn']), /^\/apisix\/stream_routes\/1:[0-9a-f]+:127\.0\.0\.1$/);
    one.log!(finished(a));
    assert.equal(ctx.counters.size, 1);
  });

  it('an aborted connection whose count arrives later (worker 0) gives it back at once', async () => {
    let resolve!: (n: number) => void;
    const ctx = testContext();
    const released: string[] = [];
    ctx.counters.acquire = () => new Promise<number>((r) => (resolve = r)) as unknown as number;
    ctx.counters.release = (key) => void released.push(key);
    const f = limitConn.compile(BASE, ctx);
    const c = testConn();
    const pending = f.access!(c) as Promise<AccessVerdict>;
    c.aborted = true;
    f.log!(finished(c)); // the log phase ran while the count was on its way: nothing to give back yet
    resolve(1);
    assert.equal(await pending, undefined);
    assert.equal(released.length, 1);
    assert.equal(c.state['limit-conn'], undefined);
  });
});

describe('limit-conn: explain', () => {
  it('the count of the key against conn + burst: admitted, delayed, refused; nothing is counted', () => {
    const ctx = testContext();
    const f = limitConn.compile(BASE, ctx); // conn 2, burst 1, 0.1 s
    const c = testConn({ remoteAddr: '10.0.0.9' });
    const decision = () => f.explain!(c);
    assert.deepEqual(decision(), { admits: true, reason: 'key 10.0.0.9 has 0 connections, conn is 2: would be admitted', facts: { key: '10.0.0.9', conn: 2, burst: 1, count: 0, decision: 'admitted' } });
    assert.deepEqual(decision(), decision(), 'explain takes no count');
    admit(f, testConn({ remoteAddr: '10.0.0.9' }));
    admit(f, testConn({ remoteAddr: '10.0.0.9' }));
    assert.deepEqual(decision(), { admits: true, reason: 'key 10.0.0.9 has 2 connections, over conn 2: would be delayed 100 ms', facts: { key: '10.0.0.9', conn: 2, burst: 1, count: 2, decision: 'delayed', delay_ms: 100 } });
    assert.equal(admit(f, testConn({ remoteAddr: '10.0.0.9' })), 'delayed');
    assert.deepEqual(decision(), { admits: false, reason: 'key 10.0.0.9 has 3 connections, conn + burst is 3: would be refused (503)', facts: { key: '10.0.0.9', conn: 2, burst: 1, count: 3, decision: 'refused' } });
    assert.equal((admit(f, testConn({ remoteAddr: '10.0.0.9' })) as { code: number }).code, 503, 'as explain said');
    assert.equal(f.explain!(testConn({ remoteAddr: '10.0.0.8' })).admits, true, 'another key has its own count');
  });
});
