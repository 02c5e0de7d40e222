// NameResolver with a scripted DNS client: which names it keeps resolved as upstreams come and go, when it
// asks again, what it reports, and that a failure keeps the last addresses and is logged once.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsAnswer, DnsClient } from '../../src/dns/client';
import { NameResolver } from '../../src/dns/resolver';
import { configureErrorLog } from '../../src/log/logger';
import { until } from '../helpers/udp';
import { buildSnapshot } from '../../src/snapshot/build';
import type { Snapshot } from '../../src/snapshot/types';
import type { StoredObject } from '../../src/store/types';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { DEFAULT_PLUGINS } from '../../src/plugins/registry';
import { buildServedSnapshot } from '../../src/plugins/snapshot';

const logs: string[] = [];
configureErrorLog({ sink: (t) => logs.push(t) });
after(() => configureErrorLog({ sink: (t) => process.stderr.write(t) }));

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers from a mutable table (name -> addresses, or an error code); every question is recorded. */
function scriptedClient(table: Map<string, string[] | string>, ttlMs: number | null = 50): DnsClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolve(name): Promise<DnsAnswer> {
      asked.push(name);
      const a = table.get(name) ?? 'ENOTFOUND';
      return typeof a === 'string' ? Promise.reject(Object.assign(new Error(a), { code: a })) : Promise.resolve({ addresses: [...a], ttlMs });
    },
  };
}

let revision = 0;
function snapshot(upstreams: Record<string, Record<string, number>>): Snapshot {
  const rows = Object.entries(upstreams).map(([id, nodes]): StoredObject => {
    const value = { id, nodes };
    return { id, value, raw: JSON.stringify(value), createdIndex: 1, modifiedIndex: 1 };
  });
  return buildSnapshot({ revision: ++revision, streamRoutes: [], upstreams: rows, ssls: [], unreadable: [] }, null).snapshot;
}

describe('NameResolver', () => {
  it('resolves each name once for all its upstreams, reports them, and forgets names no upstream uses', async () => {
    const table = new Map<string, string[] | string>([['db.test', ['10.0.0.2', '10.0.0.1', '10.0.0.1']], ['cache.test', ['10.0.1.1']]]);
    const client = scriptedClient(table, 60_000);
    const changes: string[][] = [];
    const r = new NameResolver({ client, validMs: null, onChange: (keys) => changes.push(keys) });
    try {
      r.sync(snapshot({ a: { 'db.test:5432': 1 }, b: { 'db.test:5432': 1, 'cache.test:6379': 1 }, c: { '127.0.0.1:1': 1 } }));
      await wait(10);
      assert.deepEqual(client.asked, ['db.test', 'cache.test']);
      assert.deepEqual(changes, [['/apisix/upstreams/a', '/apisix/upstreams/b'], ['/apisix/upstreams/b']]);
      assert.deepEqual(r.addressesOf('db.test'), ['10.0.0.1', '10.0.0.2'], 'sorted, once each');
      assert.equal(r.addressesOf('nothing.test'), null);
      const next = snapshot({ a: { '127.0.0.1:2': 1 }, b: { 'db.test:5432': 1 } });
      r.update(next, ['/apisix/upstreams/a', '/apisix/upstreams/b']);
      assert.equal(r.size, 1, 'cache.test is no longer used');
      r.sync(snapshot({}));
      assert.equal(r.size, 0);
    } finally {
      r.stop();
    }
  });

  it('asks again when the TTL runs out and reports only a change', async () => {
    const table = new Map<string, string[] | string>([['db.test', ['10.0.0.1']]]);
    const client = scriptedClient(table, 40);
    const changes: string[][] = [];
    const r = new NameResolver({ client, validMs: null, onChange: (keys) => changes.push(keys), minTtlMs: 10 });
    try {
      r.sync(snapshot({ a: { 'db.test:5432': 1 } }));
      // two more answers, the same (polled: a loaded machine stretches the 40 ms TTL's timers)
      await until(() => client.asked.length >= 3, 5000, 'two more questions');
      assert.equal(changes.length, 1);
      table.set('db.test', ['10.0.0.7']);
      await until(() => changes.length === 2, 5000, 'the new answer reported');
      assert.deepEqual(r.addressesOf('db.test'), ['10.0.0.7']);
    } finally {
      r.stop();
    }
  });

  it('dns_resolver_valid overrides the TTL', async () => {
    const client = scriptedClient(new Map([['db.test', ['10.0.0.1']]]), 10);
    const r = new NameResolver({ client, validMs: 60_000, onChange: () => {}, minTtlMs: 1 });
    try {
      r.sync(snapshot({ a: { 'db.test:5432': 1 } }));
      await wait(80);
      assert.equal(client.asked.length, 1);
    } finally {
      r.stop();
    }
  });

  it('a failure keeps the last addresses, is logged once, and recovery is logged', async () => {
    const table = new Map<string, string[] | string>([['db.test', ['10.0.0.1']]]);
    const client = scriptedClient(table, 10);
    const r = new NameResolver({ client, validMs: 20, onChange: () => {}, minTtlMs: 10 });
    try {
      r.sync(snapshot({ a: { 'db.test:5432': 1 } }));
      await wait(30);
      table.set('db.test', 'ECONNREFUSED');
      const asked = client.asked.length;
      await wait(120);
      assert.ok(client.asked.length >= asked + 3, 'kept asking');
      assert.deepEqual(r.addressesOf('db.test'), ['10.0.0.1']);
      const failed = logs.filter((l) => l.includes('dns resolution failed'));
      assert.equal(failed.length, 1, logs.join(''));
      assert.match(failed[0]!, /name=db\.test error=ECONNREFUSED addresses=10\.0\.0\.1/);
      table.set('db.test', ['10.0.0.1']);
      await wait(60);
      assert.equal(logs.filter((l) => l.includes('dns name resolves again')).length, 1);
    } finally {
      r.stop();
    }
  });

  it('stop() drops answers still on their way', async () => {
    let answer: (a: DnsAnswer) => void = () => {};
    const client: DnsClient = { resolve: () => new Promise((res) => (answer = res)) };
    const changes: string[][] = [];
    const r = new NameResolver({ client, validMs: null, onChange: (keys) => changes.push(keys) });
    r.sync(snapshot({ a: { 'db.test:5432': 1 } }));
    r.stop();
    answer({ addresses: ['10.0.0.1'], ttlMs: 1000 });
    await wait(10);
    assert.deepEqual(changes, []);
  });

  it("follows the names of traffic-split's inline upstreams, under their own keys, until the route goes", async () => {
    const table = new Map<string, string[] | string>([['cache.test', ['10.0.1.1']]]);
    const client = scriptedClient(table, 60_000);
    const changes: string[][] = [];
    const r = new NameResolver({ client, validMs: null, onChange: (keys) => changes.push(keys) });
    const compiler = new FilterCompiler(DEFAULT_PLUGINS, new LocalConnCounters());
    const served = (routes: StoredObject[]) =>
      buildServedSnapshot({ revision: ++revision, streamRoutes: routes, upstreams: [], ssls: [], unreadable: [] }, null, compiler).snapshot;
    const value = { id: 's', server_port: 1, plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: { nodes: { 'cache.test:6379': 1 } }, weight: 1 }] }] } } };
    try {
      r.sync(served([{ id: 's', value, raw: JSON.stringify(value), createdIndex: 1, modifiedIndex: 1 }]));
      await wait(10);
      assert.deepEqual(client.asked, ['cache.test']);
      assert.deepEqual(changes, [['/apisix/stream_routes/s#traffic-split/1/1']]);
      r.sync(served([]));
      assert.equal(r.size, 0);
    } finally {
      r.stop();
    }
  });
});
