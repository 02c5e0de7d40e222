// Start-up code pages handed back to the kernel (src/runtime/bun/trim.ts). The /proc/self/maps parser is
// pure and runs everywhere; the madvise itself needs Bun (bun:ffi): under node this file runs itself with
// `bun test` and checks the outcome.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { detectRuntime } from '../../../src/runtime/index';
import { cleanRuns, privateFileMappings, trimCodePages } from '../../../src/runtime/bun/trim';
import { runUnderBun } from '../../helpers/bun';

const MAPS = [
  '00400000-00600000 r--p 00000000 08:01 1234                               /opt/weir/bin/weir',
  '00600000-01600000 r-xp 00200000 08:01 1234                               /opt/weir/bin/weir',
  '01600000-01700000 rw-p 01200000 08:01 1234                               /opt/weir/bin/weir',
  '01700000-01800000 rw-p 00000000 00:00 0                                  [heap]',
  '7f0000000000-7f0000100000 r--p 00000000 00:00 0 ',
  '7f0000100000-7f0000200000 r-xp 00000000 00:00 0                          [vdso]',
  '7f0000200000-7f0000300000 r-xp 00028000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f0000300000-7f0000400000 rwxp 00000000 00:00 0 ',
  '7f0000400000-7f0000401000 r--s 00000000 08:01 77                         /var/lib/weir/weir.db-shm',
  '',
].join('\n');

describe('privateFileMappings', () => {
  it('takes the private mappings of files (code, constants, data), never heap, JIT, shared or anonymous memory', () => {
    assert.deepEqual(privateFileMappings(MAPS), [
      { start: 0x400000n, length: 0x200000n, writable: false },
      { start: 0x600000n, length: 0x1000000n, writable: false },
      { start: 0x1600000n, length: 0x100000n, writable: true },
      { start: 0x7f0000200000n, length: 0x100000n, writable: false },
    ]);
  });

  it('reads nothing from text that is not a maps file', () => {
    assert.deepEqual(privateFileMappings('r-xp /bin/sh\n\n0-0\nhello'), []);
  });
});

/** pagemap entries: 'f' present file page, 'a' present page written by the process, '.' not present */
function pagemap(pages: string): Buffer {
  const buf = Buffer.alloc(pages.length * 8);
  [...pages].forEach((p, i) => buf.writeUInt32LE(p === 'f' ? 0xa0000000 : p === 'a' ? 0x80000000 : 0, i * 8 + 4));
  return buf;
}

describe('cleanRuns', () => {
  it('advises file pages and absent pages, never a page the process wrote', () => {
    const base = 0x10000n;
    assert.deepEqual(cleanRuns(base, pagemap('ff.fa.ffaa')), [
      { start: 0x10000n, length: 0x4000n },
      { start: 0x15000n, length: 0x3000n },
    ]);
    assert.deepEqual(cleanRuns(base, pagemap('aaa')), []);
    assert.deepEqual(cleanRuns(base, pagemap('...')), [{ start: 0x10000n, length: 0x3000n }]);
    assert.deepEqual(cleanRuns(base, pagemap('')), []);
  });
});

const rssFileKib = (): number => Number(/RssFile:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

if (detectRuntime() === 'bun') {
  describe('trimCodePages under Bun', () => {
    it('unmaps the executable\'s clean pages and the process keeps working (a TCP round trip after it)', async () => {
      const before = rssFileKib();
      const taken = trimCodePages();
      const after = rssFileKib();
      assert.ok(taken > 0, `madvise took ${taken} ranges`);
      assert.ok(after < before * 0.8, `file-backed RSS ${before} KiB -> ${after} KiB`);
      const server = net.createServer((s) => s.pipe(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const echoed = await new Promise<string>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.end('after trim'));
        let got = '';
        c.on('data', (d) => (got += d));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      server.close();
      assert.equal(echoed, 'after trim');
    });
  });
} else {
  describe('trimCodePages', () => {
    it('is a no-op answering -1 where bun:ffi does not exist (node)', () => {
      assert.equal(trimCodePages(), -1);
    });

    it('unmaps the executable\'s clean pages under bun test', { timeout: 60_000 }, async () => {
      const r = await runUnderBun('test/runtime/bun/trim.test.ts', 50_000);
      assert.equal(r.fail, 0, r.output);
      assert.equal(r.pass, 4, r.output);
      assert.equal(r.code, 0, r.output);
    });
  });
}
