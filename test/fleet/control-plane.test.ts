// The control plane's writes through etcd, deterministically: a change made behind its back between its read and
// its write (here: etcdctl, synchronously, inside the rehearsal) makes the write a 409 and leaves etcd as it was.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/parse';
import { openSqlite } from '../../src/runtime/index';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';
import { pluginSetOf } from '../../src/plugins/registry';
import { startFleet, type Fleet } from '../../src/fleet/start-fleet';
import { patchObject, putObject } from '../../src/objects/index';
import { ObjectError } from '../../src/objects/errors';
import { missingServers } from '../helpers/servers';
import { startEtcd, type EtcdServer } from '../helpers/etcd';
import { tempDir } from '../helpers/weir';

const skip = missingServers('etcd', 'etcdctl') ?? false;

describe('ControlPlaneWriter', { skip }, () => {
  const dir = tempDir('weir-cp-');
  let etcd: EtcdServer;
  let store: Store;
  let fleet: Fleet;

  before(async () => {
    etcd = await startEtcd(dir.path);
    const { config } = parseConfig(`deployment:\n  role: control_plane\n  etcd: {host: ["${etcd.url}"], timeout: 2}\n`, 'test.yaml', {});
    const path = join(dir.path, 'weir.db');
    const db = openSqlite(path);
    store = openStore(path, { db });
    fleet = await startFleet({ config, store, db, trustedCa: null, plugins: () => pluginSetOf(config), onApplied: () => {} });
    const deadline = Date.now() + 5000;
    while (!fleet.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await fleet?.stop();
    store?.close();
    etcd?.kill();
    dir.remove();
  });

  it('writes the rehearsed operation to etcd and waits until its own copy has it', async () => {
    const result = await fleet.writeThrough!('PUT', (rec) => putObject({ store: rec, dryRun: {}, now: () => 1000 }, 'upstreams', '1', { nodes: { '127.0.0.1:1': 1 } }), store);
    assert.deepEqual(result, {
      status: 201,
      body: { key: '/apisix/upstreams/1', value: { id: '1', nodes: { '127.0.0.1:1': 1 }, create_time: 1000, update_time: 1000 } },
    });
    assert.deepEqual(JSON.parse(etcd.ctl('get', '/apisix/upstreams/1', '--print-value-only')), result.body.value);
    assert.equal(store.get('upstreams', '1')?.value.create_time, 1000); // read-your-write on the local copy
  });

  it('a change by another writer between read and write is a 409, and etcd keeps that change', async () => {
    const behindItsBack = JSON.stringify({ id: '1', nodes: { '127.0.0.1:2': 1 }, desc: 'etcdctl' });
    await assert.rejects(
      fleet.writeThrough!('PATCH', (rec) => {
        etcd.ctl('put', '/apisix/upstreams/1', behindItsBack); // after the control plane caught up, before its write
        return patchObject({ store: rec, dryRun: {} }, 'upstreams', '1', '', { desc: 'mine' });
      }, store),
      (err: unknown) =>
        err instanceof ObjectError &&
        err.status === 409 &&
        /^upstreams\/1 was changed by another writer since it was read \(mod_revision \d+\); read it again and retry$/.test(String((err.body as { error_msg: string }).error_msg)),
    );
    assert.equal(etcd.ctl('get', '/apisix/upstreams/1', '--print-value-only').trim(), behindItsBack);
  });
});
