// PATCH semantics, pure: deep merge (objects merge, arrays replace, null deletes) and sub-path replacement.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergePatch, patchAtPath } from '../../src/objects/patch';

describe('mergePatch', () => {
  const base = {
    id: '1',
    type: 'roundrobin',
    nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 2 },
    timeout: { connect: 1, send: 2, read: 3 },
    labels: { a: 'x' },
    list: [1, 2, 3],
  };

  const cases: { name: string; patch: Record<string, unknown>; want: Record<string, unknown> }[] = [
    { name: 'scalar replaces', patch: { type: 'chash' }, want: { ...base, type: 'chash' } },
    {
      name: 'objects merge key by key',
      patch: { timeout: { read: 9 }, nodes: { '127.0.0.1:3': 3 } },
      want: { ...base, timeout: { connect: 1, send: 2, read: 9 }, nodes: { '127.0.0.1:1': 1, '127.0.0.1:2': 2, '127.0.0.1:3': 3 } },
    },
    { name: 'arrays replace wholesale', patch: { list: [9] }, want: { ...base, list: [9] } },
    {
      name: 'null deletes, also nested',
      patch: { labels: null, nodes: { '127.0.0.1:1': null } },
      want: { id: '1', type: 'roundrobin', nodes: { '127.0.0.1:2': 2 }, timeout: base.timeout, list: [1, 2, 3] },
    },
    { name: 'an object replaces an array', patch: { list: { a: 1 } }, want: { ...base, list: { a: 1 } } },
    { name: 'new keys are added', patch: { desc: 'd' }, want: { ...base, desc: 'd' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const before = JSON.stringify(base);
      assert.deepEqual(mergePatch(base, c.patch), c.want);
      assert.equal(JSON.stringify(base), before, 'input not mutated');
    });
  }

  it('does not share nested objects with the patch', () => {
    const patch = { timeout: { connect: 5 }, extra: { deep: { x: 1 } } };
    const out = mergePatch({}, patch);
    (out.extra as { deep: { x: number } }).deep.x = 2;
    assert.equal(patch.extra.deep.x, 1);
  });
});

describe('patchAtPath', () => {
  const base = { id: '1', nodes: { 'a:1': 1 }, timeout: { connect: 1, send: 1, read: 1 }, type: 'roundrobin' };

  it('replaces the value at a one-segment path (no merge)', () => {
    assert.deepEqual(patchAtPath(base, 'nodes', { 'b:2': 2 }), { ok: true, value: { ...base, nodes: { 'b:2': 2 } } });
  });
  it('replaces a nested value', () => {
    assert.deepEqual(patchAtPath(base, 'timeout/connect', 5), {
      ok: true,
      value: { ...base, timeout: { connect: 5, send: 1, read: 1 } },
    });
  });
  it('creates missing intermediate objects', () => {
    assert.deepEqual(patchAtPath(base, 'labels/env', 'prod'), { ok: true, value: { ...base, labels: { env: 'prod' } } });
  });
  it('null removes the key', () => {
    const { type: _t, ...rest } = base;
    void _t;
    assert.deepEqual(patchAtPath(base, 'type', null), { ok: true, value: rest });
  });
  it('walking through a scalar fails naming the path', () => {
    assert.deepEqual(patchAtPath(base, 'type/x/y', 1), { ok: false, message: 'invalid sub-path: /type' });
    assert.deepEqual(patchAtPath(base, 'timeout/connect/x', 1), { ok: false, message: 'invalid sub-path: /timeout/connect' });
  });
  it('leaves the input untouched', () => {
    const before = JSON.stringify(base);
    patchAtPath(base, 'timeout/connect', 9);
    assert.equal(JSON.stringify(base), before);
  });
});
