// The fd limit as /proc/self/limits states it, and the default connection cap derived from it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { defaultMaxConnections, FD_RESERVE, parseProcLimits, readFdLimit, resolveMaxConnections } from '../../src/lib/fd-limit';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  1048576              files
Max locked memory         8388608              8388608              bytes
`;

describe('fd limit', () => {
  it('reads the soft "Max open files" figure', () => {
    assert.equal(parseProcLimits(LIMITS), 256);
    assert.equal(parseProcLimits(LIMITS.replace('256 ', 'unlimited ')), 2 ** 31 - 1);
    assert.equal(parseProcLimits('Max cpu time unlimited unlimited seconds\n'), null);
  });

  it('assumes 1024 when the file cannot be read', () => {
    assert.deepEqual(readFdLimit('/nonexistent/limits'), { soft: 1024, source: 'assumed' });
    const dir = mkdtempSync(join(tmpdir(), 'weir-fd-'));
    writeFileSync(join(dir, 'limits'), LIMITS);
    assert.deepEqual(readFdLimit(join(dir, 'limits')), { soft: 256, source: join(dir, 'limits') });
  });

  it('defaults max_connections below half the fd limit, keeping the reserve', () => {
    assert.equal(FD_RESERVE, 64);
    assert.equal(defaultMaxConnections(256), 96); // (256 - 64) / 2
    assert.equal(defaultMaxConnections(1024), 480);
    assert.equal(defaultMaxConnections(65536), 32736);
    assert.equal(defaultMaxConnections(10), 1);
    for (const n of [100, 256, 1024, 4096, 1048576]) assert.ok(defaultMaxConnections(n) < n / 2);
    assert.deepEqual(resolveMaxConnections(undefined, { soft: 256, source: 'x' }), { max: 96, fdLimit: 256, from: 'fd limit (x)' });
    assert.deepEqual(resolveMaxConnections(10, { soft: 256, source: 'x' }), { max: 10, fdLimit: 256, from: 'apisix.stream_proxy.max_connections' });
  });
});
