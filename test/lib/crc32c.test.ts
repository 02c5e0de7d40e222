// CRC32C against the published check value and the iSCSI vectors (RFC 3720 B.4), and the zeroed-field rule.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeCrc32c } from '../../src/lib/crc32c';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('computeCrc32c', () => {
  it('gives the catalogued check value of "123456789"', () => {
    assert.equal(computeCrc32c(ascii('123456789')), 0xe3069283);
  });
  it('matches the RFC 3720 vectors (their bytes are the CRC in little-endian order)', () => {
    assert.equal(computeCrc32c(new Uint8Array(32)), 0x8a9136aa); // aa 36 91 8a
    assert.equal(computeCrc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // 43 ab a8 62
    assert.equal(computeCrc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e); // 4e 79 dd 46
    assert.equal(computeCrc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c); // 5c db 3f 11
  });
  it('is 0 for no bytes and honours start and end', () => {
    assert.equal(computeCrc32c(new Uint8Array(0)), 0);
    assert.equal(computeCrc32c(ascii('xx123456789yy'), 2, 11), 0xe3069283);
  });
  it('reads the 4 bytes at skip as zeros without changing the input', () => {
    const bytes = ascii('abcdefghij');
    const zeroed = bytes.slice();
    zeroed.fill(0, 3, 7);
    assert.equal(computeCrc32c(bytes, 0, bytes.length, 3), computeCrc32c(zeroed));
    assert.deepEqual(bytes, ascii('abcdefghij'));
    // a skip that runs past the end zeroes only what is there
    assert.equal(computeCrc32c(bytes, 0, 9, 7), computeCrc32c(Uint8Array.from([...bytes.subarray(0, 7), 0, 0])));
  });
});
