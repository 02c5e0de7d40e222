// SSL objects named by upstream tls.client_cert_id: checked at write time (APISIX's errors) and protected
// from deletion while in use, like an upstream a stream route uses ([weir] tightening; ?force=true wins).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deleteObject, putObject, type ObjectContext } from '../../src/objects/index';
import { CLIENT_SSL, UPSTREAM, failure, tempStore, type TempStore } from './fixtures';

describe('client_cert_id references', () => {
  let t: TempStore;
  let ctx: ObjectContext;

  before(() => {
    t = tempStore();
    ctx = { store: t.store, onChange: () => {}, now: () => 1700000000 };
  });
  after(() => t.close());

  it('a route inline upstream naming a missing ssl is a 400 at write time', () => {
    const route = { upstream: { ...UPSTREAM, scheme: 'tls', tls: { client_cert_id: 'nope' } } };
    assert.deepEqual(failure(() => putObject(ctx, 'stream_routes', 'r', route)), [
      400,
      { error_msg: 'failed to fetch ssl info by ssl id [nope], response code: 404' },
    ]);
    assert.equal(t.store.get('stream_routes', 'r'), undefined);
  });

  it('an ssl used by an upstream, then by a route, cannot be deleted; unused or forced it can', () => {
    putObject(ctx, 'ssls', '7', CLIENT_SSL);
    putObject(ctx, 'ssls', 'free', CLIENT_SSL);
    // a numeric id is the same reference as the text one
    putObject(ctx, 'upstreams', 'u1', { ...UPSTREAM, scheme: 'tls', tls: { client_cert_id: 7 } });
    putObject(ctx, 'stream_routes', 'r1', { upstream: { ...UPSTREAM, scheme: 'tls', tls: { client_cert_id: '7' } } });
    assert.deepEqual(t.store.objectsUsingSsl('7'), [
      { res: 'upstreams', id: 'u1' },
      { res: 'stream_routes', id: 'r1' },
    ]);
    assert.deepEqual(failure(() => deleteObject(ctx, 'ssls', '7')), [
      400,
      { error_msg: 'can not delete this ssl, upstream [u1] is still using it now' },
    ]);
    deleteObject(ctx, 'upstreams', 'u1');
    assert.deepEqual(failure(() => deleteObject(ctx, 'ssls', '7')), [
      400,
      { error_msg: 'can not delete this ssl, stream_route [r1] is still using it now' },
    ]);
    assert.ok(t.store.get('ssls', '7'));
    assert.deepEqual(deleteObject(ctx, 'ssls', 'free').body, { deleted: '1', key: '/apisix/ssls/free' });
    assert.deepEqual(deleteObject(ctx, 'ssls', '7', { force: true }).body, { deleted: '1', key: '/apisix/ssls/7' });
    assert.equal(t.store.get('ssls', '7'), undefined);
  });
});
