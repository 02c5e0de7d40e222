// startWeir's snapshot upkeep: problems are logged when they appear, not again on every rebuild.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { configureErrorLog } from '../../src/log/logger';
import { freePort } from '../helpers/net';
import { startTestWeir, type TestWeir } from '../helpers/weir';

describe('startWeir snapshot problems', () => {
  let w: TestWeir | undefined;
  const lines: string[] = [];
  after(async () => {
    configureErrorLog({ sink: (t) => process.stderr.write(t) });
    await w?.stop();
  });

  it('warns about a problem once, however many writes follow', async () => {
    configureErrorLog({ sink: (t) => lines.push(t) });
    w = await startTestWeir([`"127.0.0.1:${await freePort()}"`]);
    const nodes = { '127.0.0.1:1995': 1 };
    const empty = {}; // valid (APISIX allows it for service discovery), but nothing to forward to: a problem
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/ch', { nodes: empty })).status, 201);
    for (let i = 0; i < 5; i++) {
      assert.equal((await w.admin('PUT', `/apisix/admin/stream_routes/r${i}`, { upstream: { nodes } })).status, 201);
    }
    const note = 'upstreams/ch: upstream has no nodes';
    const notes = lines.filter((l) => l.includes(note));
    assert.equal(notes.length, 1, lines.join(''));
    // a problem that goes away and comes back is news again
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/ch', { nodes })).status, 200);
    assert.equal((await w.admin('PUT', '/apisix/admin/upstreams/ch', { nodes: empty })).status, 200);
    assert.equal(lines.filter((l) => l.includes(note)).length, 2);
  });
});
