// etcd's JSON gateway, pure part: prefix ranges, base64, line splitting across chunks, watch lines, errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  LineSplitter, classifyReply, decodeBase64, encodeBase64, nextKeyBase64, parseWatchLine, prefixRangeEnd, rangeBody, watchBody,
} from '../../src/fleet/gateway';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('gateway bodies', () => {
  it('ends a prefix range at the prefix with its last byte plus one', () => {
    assert.equal(decodeBase64(prefixRangeEnd('/apisix/')), '/apisix0');
    assert.equal(decodeBase64(prefixRangeEnd('/a')), '/b');
    assert.deepEqual([...Buffer.from(prefixRangeEnd('a\xff'), 'base64')], [0x61, 0xc3, 0xc0]); // "\xff" is two UTF-8 bytes
  });

  it('round-trips UTF-8 through base64', () => {
    assert.equal(decodeBase64(encodeBase64('/apisix/upstreams/ü')), '/apisix/upstreams/ü');
  });

  it('pins pages to a revision and starts the next page after the last key', () => {
    assert.deepEqual(JSON.parse(rangeBody(b64('/p/'), b64('/p0'), { limit: 500, revision: 12 })), {
      key: b64('/p/'), range_end: b64('/p0'), limit: '500', revision: '12',
    });
    assert.deepEqual(JSON.parse(rangeBody(b64('/p/'), b64('/p0'), { limit: 500 })), { key: b64('/p/'), range_end: b64('/p0'), limit: '500' });
    assert.equal(Buffer.from(nextKeyBase64('/p/x'), 'base64').toString('latin1'), '/p/x\0');
  });

  it('watches the whole prefix from a revision with progress notifications', () => {
    assert.deepEqual(JSON.parse(watchBody('/apisix/', 8)), {
      create_request: { key: b64('/apisix/'), range_end: b64('/apisix0'), start_revision: '8', progress_notify: true },
    });
  });
});

describe('LineSplitter', () => {
  it('joins a line cut across chunks and drops empty lines', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('{"a":'), []);
    assert.deepEqual(s.push('1}\n\n{"b"'), ['{"a":1}']);
    assert.deepEqual(s.push(':2}\n{"c":3}\n'), ['{"b":2}', '{"c":3}']);
  });
});

describe('parseWatchLine', () => {
  const header = '"header":{"cluster_id":"14841639068965178418","member_id":"1","revision":"9","raft_term":"2"}';

  it('reads created, events (a PUT has no type, a DELETE no value), progress', () => {
    assert.deepEqual(parseWatchLine(`{"result":{${header},"created":true}}`), { kind: 'created', header: { revision: 9, clusterId: '14841639068965178418' } });
    const line = `{"result":{${header},"events":[{"kv":{"key":"${b64('/apisix/upstreams/1')}","create_revision":"5","mod_revision":"9","version":"2","value":"${b64('{"a":1}')}"}},{"type":"DELETE","kv":{"key":"${b64('/apisix/stream_routes/2')}","mod_revision":"9"}}]}}`;
    assert.deepEqual(parseWatchLine(line), {
      kind: 'events',
      header: { revision: 9, clusterId: '14841639068965178418' },
      events: [
        { type: 'put', kv: { key: '/apisix/upstreams/1', value: '{"a":1}', createRevision: 5, modRevision: 9 } },
        { type: 'delete', kv: { key: '/apisix/stream_routes/2', value: null, createRevision: 0, modRevision: 9 } },
      ],
    });
    assert.equal(parseWatchLine(`{"result":{${header}}}`).kind, 'progress');
  });

  it('tells compaction from other cancels', () => {
    assert.deepEqual(parseWatchLine(`{"result":{${header},"canceled":true,"compact_revision":"7"}}`), {
      kind: 'compacted', header: { revision: 9, clusterId: '14841639068965178418' }, compactRevision: 7,
    });
    assert.deepEqual(parseWatchLine(`{"result":{${header},"created":true,"canceled":true,"cancel_reason":"rpc error: code = PermissionDenied desc = etcdserver: permission denied"}}`), {
      kind: 'canceled', header: { revision: 9, clusterId: '14841639068965178418' }, reason: 'rpc error: code = PermissionDenied desc = etcdserver: permission denied',
    });
    assert.deepEqual(parseWatchLine('{"error":{"grpc_code":14,"message":"unavailable"}}'), { kind: 'error', message: 'watch: unavailable' });
    assert.equal(parseWatchLine('nope').kind, 'error');
  });
});

describe('classifyReply', () => {
  const cases: Array<[number, string, string]> = [
    [400, '{"error":"etcdserver: mvcc: required revision has been compacted","code":11}', 'compacted'],
    [400, '{"error":"etcdserver: user name is empty","code":3}', 'auth'],
    [401, '{"error":"etcdserver: invalid auth token","code":16}', 'auth'],
    [403, '{"error":"etcdserver: permission denied","code":7}', 'permission'],
    [404, '404 page not found', 'not_gateway'],
    [503, '{"error":"etcdserver: request timed out","code":14}', 'unavailable'],
    [400, '{"error":"bad","code":3}', 'other'],
  ];
  for (const [status, body, kind] of cases) {
    it(`${status} ${body.slice(0, 40)} -> ${kind}`, () => {
      const err = classifyReply('http://e/v3/kv/range', status, body);
      assert.equal(err.kind, kind);
      assert.match(err.message, new RegExp(`^ERR_ETCD_${kind.toUpperCase()}: http://e/v3/kv/range: HTTP ${status}`));
    });
  }
});
