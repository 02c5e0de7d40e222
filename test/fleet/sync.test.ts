// The sync loop against a scripted etcd gateway (an HttpClientPort written for the test, no sockets): watch
// rotation keeps the start revision, a failing endpoint moves the loop to the next host, a repeated error is
// logged once, a revision that went backwards leads to a full load.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { HttpClientPort, HttpPostOptions, HttpReply, HttpStream } from '../../src/runtime/types';
import { openSqlite } from '../../src/runtime/index';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';
import { EtcdClient } from '../../src/fleet/etcd-client';
import { FleetStore } from '../../src/fleet/fleet-store';
import { FleetSync } from '../../src/fleet/sync';
import { APISIX_DEFAULT_KEYRING } from '../../src/fleet/apisix-crypto';
import { configureErrorLog } from '../../src/log/logger';
import { tempDir } from '../helpers/weir';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A scripted gateway: `down` endpoints refuse; ranges answer `kvs` at `revision`; each watch is recorded. */
class ScriptedGateway implements HttpClientPort {
  revision = 10;
  down = new Set<string>();
  kvs: Array<[string, string, number]> = [['/apisix/upstreams/1', '{"nodes":{"127.0.0.1:1":1}}', 5]];
  calls: string[] = [];
  watches: Array<{ url: string; start: number; emit(line: unknown): void; end(): void }> = [];

  private check(url: string): void {
    this.calls.push(url);
    const origin = new URL(url).origin;
    if (this.down.has(origin)) throw Object.assign(new Error(`connect ECONNREFUSED ${new URL(url).host}`), { code: 'ECONNREFUSED' });
  }

  async post(url: string, _body: string, _opts: HttpPostOptions): Promise<HttpReply> {
    this.check(url);
    if (url.endsWith('/version')) return { status: 200, body: '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}' };
    const header = { cluster_id: 'c1', revision: String(this.revision) };
    const kvs = this.kvs.map(([k, v, rev]) => ({ key: b64(k), value: b64(v), create_revision: String(rev), mod_revision: String(rev) }));
    return { status: 200, body: JSON.stringify({ header, kvs, count: String(kvs.length) }) };
  }

  async openStream(url: string, body: string, _opts: HttpPostOptions, onText: (text: string) => void): Promise<HttpStream> {
    this.check(url);
    let settle: (r: { error: Error | null }) => void = () => {};
    const done = new Promise<{ error: Error | null }>((r) => (settle = r));
    const start = Number(JSON.parse(body).create_request.start_revision);
    this.watches.push({ url, start, emit: (line) => onText(`${JSON.stringify(line)}\n`), end: () => settle({ error: null }) });
    queueMicrotask(() => onText(`${JSON.stringify({ result: { header: { cluster_id: 'c1', revision: String(this.revision) }, created: true } })}\n`));
    return { close: () => settle({ error: null }), done };
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('FleetSync', () => {
  const dir = tempDir('weir-sync-');
  const lines: string[] = [];
  let store: Store;
  let fleetStore: FleetStore;

  before(() => {
    configureErrorLog({ sink: (t) => { lines.push(t); if (process.env.DBG) process.stderr.write(t); } });
    const path = join(dir.path, 'weir.db');
    const db = openSqlite(path);
    store = openStore(path, { db });
    fleetStore = new FleetStore(store, db);
  });
  after(() => {
    configureErrorLog({ sink: (t) => void process.stderr.write(t) });
    store.close();
    dir.remove();
  });

  const makeSync = (gw: ScriptedGateway, endpoints: string[], watchTimeoutMs = 1000): FleetSync =>
    new FleetSync({
      client: new EtcdClient({ endpoints, timeoutMs: 1000, http: gw }),
      store: fleetStore,
      prefix: '/apisix',
      watchTimeoutMs,
      decode: { keyring: APISIX_DEFAULT_KEYRING },
      onApplied: () => {},
      backoffBaseMs: 5,
      backoffCapMs: 20,
      random: () => 1,
    });

  it('re-makes the watch every watch_timeout at the same start revision', async () => {
    const gw = new ScriptedGateway();
    const sync = makeSync(gw, ['http://a'], 30);
    sync.start();
    await until(() => gw.watches.length >= 3);
    await sync.stop();
    assert.deepEqual(gw.watches.slice(0, 3).map((w) => w.start), [11, 11, 11]);
    assert.equal(store.get('upstreams', '1')?.modifiedIndex, 5);
    assert.equal(sync.ready(), true);
  });

  it('applies an event batch and moves the start revision past its last event only', async () => {
    const gw = new ScriptedGateway();
    const sync = makeSync(gw, ['http://a'], 60_000);
    sync.start();
    await until(() => gw.watches.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    // a catch-up batch whose header is ahead of its events (etcd sends more after it)
    gw.watches[0]!.emit({ result: { header: { cluster_id: 'c1', revision: '20' }, events: [{ type: 'DELETE', kv: { key: b64('/apisix/upstreams/1'), mod_revision: '12' } }] } });
    assert.equal(store.get('upstreams', '1'), undefined);
    gw.revision = 20;
    gw.watches[0]!.end(); // the stream ends: reconnect
    await until(() => gw.watches.length === 2);
    await sync.stop();
    assert.equal(gw.watches[1]!.start, 13);
  });

  it('moves to the next host on failure, and logs a repeated error once', async () => {
    const gw = new ScriptedGateway();
    gw.down.add('http://a');
    gw.down.add('http://b');
    lines.length = 0;
    const sync = makeSync(gw, ['http://a', 'http://b']);
    sync.start();
    await until(() => gw.calls.length >= 6);
    assert.deepEqual(gw.calls.slice(0, 4), ['http://a/version', 'http://b/version', 'http://a/version', 'http://b/version']);
    gw.down.delete('http://b');
    await until(() => gw.watches.length === 1);
    await sync.stop();
    assert.equal(gw.watches[0]!.url, 'http://b/v3/watch');
    const errors = lines.filter((l) => l.includes('etcd sync failed'));
    assert.equal(errors.length, 2, errors.join('')); // one per distinct message (host a, host b)
    assert.equal(lines.filter((l) => l.includes('etcd reachable again')).length, 1);
    assert.equal(sync.status().last_error, null);
  });

  it('loads in full when the revision went backwards', async () => {
    const gw = new ScriptedGateway();
    const sync = makeSync(gw, ['http://a'], 60_000);
    sync.start();
    await until(() => gw.watches.length === 1);
    const ranges = gw.calls.filter((c) => c.endsWith('/v3/kv/range')).length;
    gw.revision = 3; // etcd restored from an older backup
    gw.kvs = [['/apisix/upstreams/2', '{"nodes":{"127.0.0.1:2":1}}', 2]];
    gw.watches[0]!.emit({ result: { header: { cluster_id: 'c1', revision: '3' }, events: [] } });
    await until(() => gw.watches.length === 2);
    await sync.stop();
    assert.equal(gw.calls.filter((c) => c.endsWith('/v3/kv/range')).length, ranges + 1);
    assert.deepEqual(store.list('upstreams').map((o) => o.id), ['2']);
    assert.equal(gw.watches[1]!.start, 4);
  });
});
