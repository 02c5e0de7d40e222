// AccessLog: records of one event-loop turn leave in one write, to a sink or a file.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, type AccessRecord } from '../../src/log/logger';
import { base } from './records';


describe('AccessLog', () => {
  it('batches lines of one event-loop turn into one sink write', async () => {
    const writes: string[] = [];
    const log = new AccessLog({ sink: (text) => writes.push(text) });
    log.write(base);
    log.write({ ...base, route: '2' });
    assert.equal(writes.length, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0]!.trimEnd().split('\n').map((l) => (JSON.parse(l) as { route: string }).route), ['1', '2']);
    log.close();
  });

  const dir = mkdtempSync(join(tmpdir(), 'weir-accesslog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('appends whole lines to a file, also past its 64 KiB batch', async () => {
    const path = join(dir, 'access.log');
    const log = new AccessLog({ path });
    for (let i = 0; i < 1000; i++) log.write({ ...base, route: String(i) }); // ~200 KB: several batches
    log.close();
    const routes = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as AccessRecord).route);
    assert.equal(routes.length, 1000);
    assert.deepEqual(routes.slice(0, 3), ['0', '1', '2']);
    assert.equal(routes[999], '999');
  });

  it('a disabled log drops records before formatting them: not one field is read', async () => {
    const read: string[] = [];
    // Every field access shows up here: formatting a record reads its fields.
    const watched = new Proxy(base, {
      get: (target, key, receiver) => {
        read.push(String(key));
        return Reflect.get(target, key, receiver);
      },
    });
    const off = new AccessLog({ disabled: true });
    assert.equal(off.enabled, false);
    for (let i = 0; i < 3; i++) off.write(watched);
    await new Promise((r) => setImmediate(r));
    off.flush();
    off.close();
    assert.deepEqual(read, []);
  });
});
