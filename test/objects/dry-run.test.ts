// Dry-run writes: the same answer and the same refusals as the real write, and nothing written (the database
// file and its WAL byte for byte, the revision, the next POST id).

import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { deleteObject, patchObject, postObject, putObject, type ObjectContext } from '../../src/objects/index';
import type { DryRun } from '../../src/objects/dry-run';
import { UPSTREAM, failure, tempStore, type TempStore } from './fixtures';

function fileHash(path: string): string {
  const h = createHash('sha256');
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) h.update(readFileSync(p));
  return h.digest('hex');
}

describe('dry-run writes', () => {
  let t: TempStore;
  let changes = 0;
  const now = () => 1700000000;
  const real = (): ObjectContext => ({ store: t.store, now, onChange: () => changes++ });
  const dry = (d: DryRun = {}): ObjectContext => ({ ...real(), dryRun: d });
  beforeEach(() => {
    t?.close();
    t = tempStore('weir-dry-');
    changes = 0;
    putObject(real(), 'upstreams', '1', UPSTREAM);
    putObject(real(), 'stream_routes', 'r1', { server_port: 9100, upstream_id: '1' });
    changes = 0;
  });
  after(() => t.close());

  it('PUT answers what the real PUT answers and writes nothing', () => {
    const before = fileHash(t.path);
    const rev = t.store.revision();
    const body = { server_port: 9101, upstream_id: '1' };
    const rehearsed = putObject(dry(), 'stream_routes', 'r2', body);
    assert.equal(fileHash(t.path), before);
    assert.equal(t.store.revision(), rev);
    assert.equal(t.store.get('stream_routes', 'r2'), undefined);
    assert.equal(changes, 0, 'no onChange for a dry run');
    assert.deepEqual(putObject(real(), 'stream_routes', 'r2', body), rehearsed);
    assert.equal(changes, 1);
    assert.notEqual(fileHash(t.path), before, 'the check can see a real write');
  });

  it('POST shows the id the real POST then gets', () => {
    const rehearsed = postObject(dry(), 'upstreams', undefined, UPSTREAM);
    assert.deepEqual(postObject(real(), 'upstreams', undefined, UPSTREAM), rehearsed);
  });

  it('PATCH and DELETE: same answers, nothing changed', () => {
    const before = fileHash(t.path);
    const patched = patchObject(dry(), 'stream_routes', 'r1', '', { server_port: 9200 });
    assert.equal(patched.body.value && (patched.body.value as { server_port: number }).server_port, 9200);
    assert.deepEqual(deleteObject(dry(), 'stream_routes', 'r1'), { status: 200, body: { deleted: '1', key: '/apisix/stream_routes/r1' } });
    assert.equal(fileHash(t.path), before);
    assert.equal((t.store.get('stream_routes', 'r1')!.value as { server_port: number }).server_port, 9100);
  });

  it('refuses exactly as the real write does', () => {
    const cases: Array<(ctx: ObjectContext) => unknown> = [
      (ctx) => putObject(ctx, 'stream_routes', 'bad', { server_port: 70000 }),
      (ctx) => putObject(ctx, 'stream_routes', 'ref', { upstream_id: '404' }),
      (ctx) => deleteObject(ctx, 'upstreams', '1'),
      (ctx) => deleteObject(ctx, 'ssls', 'none'),
      (ctx) => patchObject(ctx, 'upstreams', '1', 'nodes', 'not nodes'),
    ];
    for (const call of cases) assert.deepEqual(failure(() => call(dry())), failure(() => call(real())));
  });

  it('captures the store before and after the write, inside the transaction', () => {
    const seen: string[] = [];
    const d: DryRun = { capture: (phase) => seen.push(`${phase}:${t.store.list('stream_routes').map((r) => r.id).join(',')}`) };
    putObject(dry(d), 'stream_routes', 'r0', { upstream_id: '1' });
    assert.deepEqual(seen, ['before:r1', 'after:r0,r1']);
    assert.deepEqual(t.store.list('stream_routes').map((r) => r.id), ['r1']);
  });
});
