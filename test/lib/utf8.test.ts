// utf8Length and writeUtf8 against TextEncoder on seeded random strings, surrogate pairs and lone halves.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8Length, writeUtf8 } from '../../src/lib/utf8';
import { seededRandom } from '../helpers/proxy-protocol';

function pickCodeUnit(random: () => number): number {
  const r = random();
  if (r < 0.4) return Math.floor(random() * 0x80);
  if (r < 0.6) return 0x80 + Math.floor(random() * 0x780);
  if (r < 0.8) return 0xd800 + Math.floor(random() * 0x800); // surrogates, paired or not
  return 0x800 + Math.floor(random() * 0xf000);
}

describe('utf8Length and writeUtf8', () => {
  it('give what TextEncoder gives, lone surrogates as U+FFFD', () => {
    assert.equal(utf8Length('a€😀\ud800'), 1 + 3 + 4 + 3);
    const random = seededRandom(8);
    const enc = new TextEncoder();
    for (let i = 0; i < 5000; i++) {
      const s = String.fromCharCode(...Array.from({ length: Math.floor(random() * 12) }, () => pickCodeUnit(random)));
      const want = enc.encode(s);
      assert.equal(utf8Length(s), want.length, JSON.stringify(s));
      const out = new Uint8Array(want.length + 2);
      assert.equal(writeUtf8(out, 1, s), want.length);
      assert.deepEqual(out.subarray(1, 1 + want.length), want);
    }
  });
});
