// PROXY v2 TLVs: every registered type and sub-type, custom and skipped types, and each malformed TLV with its
// exact reason. Headers are TCP4 (the spec's example addresses), so the first TLV is at byte 28.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeCrc32c } from '../../../src/lib/crc32c';
import { INET_BLOCK, ascii, cat, invalidReason, parsedHeader, tlv, u32, v2, type Bytes } from '../../helpers/proxy-protocol';

const withTlvs = (...tlvs: Bytes[]): Uint8Array => v2(0x21, 0x11, cat(INET_BLOCK, ...tlvs));
const tlvsOf = (...tlvs: Bytes[]) => parsedHeader(withTlvs(...tlvs)).tlvs;
/** An SSL TLV value: client, verify, sub-TLVs. */
const ssl = (client: number, verify: number, ...subs: Bytes[]): Uint8Array => cat([client], u32(verify), ...subs);

/** A header with a CRC32C TLV (at byte 28) set the way a sender does: zeros, checksum, patch. */
function withCrc(...more: Bytes[]): Uint8Array {
  const bytes = withTlvs(tlv(0x03, [0, 0, 0, 0]), ...more);
  bytes.set(u32(computeCrc32c(bytes)), 31);
  return bytes;
}

/** NOOP at 28, a right CRC32C at 31, a second CRC32C at 38. */
function twoCrcs(): Uint8Array {
  const bytes = withTlvs(tlv(0x04, []), tlv(0x03, [0, 0, 0, 0]), tlv(0x03, [0, 0, 0, 0]));
  bytes.set(u32(computeCrc32c(bytes)), 34);
  return bytes;
}

describe('parseProxyHeader v2 TLVs: registered types', () => {
  it('ALPN: the bytes as sent', () => {
    assert.deepEqual(tlvsOf(tlv(0x01, 'h2')).alpn, ascii('h2'));
    assert.deepEqual(tlvsOf(tlv(0x01, [2, 0x68, 0x32, 8, ...ascii('http/1.1')])).alpn, Uint8Array.from([2, 0x68, 0x32, 8, ...ascii('http/1.1')]));
  });
  it('AUTHORITY: UTF-8 text up to 255 bytes, empty allowed', () => {
    assert.equal(tlvsOf(tlv(0x02, 'a.test.com')).authority, 'a.test.com');
    assert.equal(tlvsOf(tlv(0x02, new TextEncoder().encode('bücher.example'))).authority, 'bücher.example');
    assert.equal(tlvsOf(tlv(0x02, 'x'.repeat(255))).authority, 'x'.repeat(255));
    assert.equal(tlvsOf(tlv(0x02, '')).authority, '');
  });
  it('CRC32C: checked over the whole header with its own field zeroed, and not over the bytes after it', () => {
    const bytes = withCrc(tlv(0x02, 'a.example'));
    const h = parsedHeader(cat(bytes, 'payload'));
    assert.equal(h.tlvs.crc32c, computeCrc32c(bytes, 0, bytes.length, 31));
    assert.equal(h.tlvs.authority, 'a.example');
    assert.equal(parsedHeader(withCrc()).headerLength, 35);
  });
  it('NOOP: skipped, of any length', () => {
    assert.deepEqual(tlvsOf(tlv(0x04, []), tlv(0x04, [1, 2, 3, 4, 5]), tlv(0x02, 'a')).authority, 'a');
  });
  it('UNIQUE_ID: opaque bytes, up to 128, empty allowed', () => {
    assert.deepEqual(tlvsOf(tlv(0x05, 'conn-1')).uniqueId, ascii('conn-1'));
    assert.deepEqual(tlvsOf(tlv(0x05, new Uint8Array(128).fill(0xff))).uniqueId, new Uint8Array(128).fill(0xff));
    assert.deepEqual(tlvsOf(tlv(0x05, [])).uniqueId, new Uint8Array(0));
  });
  it('SSL: client bits, verify, and every sub-type; unknown sub-types skipped', () => {
    const value = ssl(
      0x07, 0,
      tlv(0x21, 'TLSv1.3'), tlv(0x22, new TextEncoder().encode('Zoë')), tlv(0x23, 'TLS_AES_128_GCM_SHA256'),
      tlv(0x24, 'RSA-SHA256'), tlv(0x25, 'RSA2048'), tlv(0x26, [0xff, 0xfe]),
    );
    assert.deepEqual(tlvsOf(tlv(0x20, value)).ssl, {
      client: 7, tls: true, certInConnection: true, certInSession: true, verify: 0, certVerified: true,
      version: 'TLSv1.3', cn: 'Zoë', cipher: 'TLS_AES_128_GCM_SHA256', sigAlg: 'RSA-SHA256', keyAlg: 'RSA2048',
    });
  });
  it('SSL: a certificate from an earlier connection of the session that failed verification', () => {
    assert.deepEqual(tlvsOf(tlv(0x20, ssl(0x05, 10))).ssl, {
      client: 5, tls: true, certInConnection: false, certInSession: true, verify: 10, certVerified: false,
      version: null, cn: null, cipher: null, sigAlg: null, keyAlg: null,
    });
  });
  it('SSL: verify 0 without a certificate is not a verified certificate; unknown client bits are kept raw', () => {
    const s = tlvsOf(tlv(0x20, ssl(0xf1, 0)))!.ssl!;
    assert.deepEqual([s.client, s.tls, s.certVerified], [0xf1, true, false]);
  });
  it('NETNS: US-ASCII text', () => {
    assert.equal(tlvsOf(tlv(0x30, 'blue')).netns, 'blue');
  });
  it('custom 0xE0-0xEF in order; unregistered, experimental and future types skipped', () => {
    const t = tlvsOf(tlv(0xe0, 'vpce-1'), tlv(0x06, 'x'), tlv(0xdf, 'x'), tlv(0xef, [0, 1]), tlv(0xf0, 'x'), tlv(0xf8, 'x'), tlv(0xe0, ''));
    assert.deepEqual(t.custom, [
      { type: 0xe0, value: ascii('vpce-1') },
      { type: 0xef, value: Uint8Array.of(0, 1) },
      { type: 0xe0, value: new Uint8Array(0) },
    ]);
  });
  it('all at once, each where the sender put it', () => {
    const t = parsedHeader(withCrc(tlv(0x01, 'h2'), tlv(0x02, 'a'), tlv(0x05, 'u'), tlv(0x20, ssl(1, 1)), tlv(0x30, 'n'), tlv(0xe5, 'c'))).tlvs;
    assert.deepEqual([t.alpn, t.authority, t.uniqueId, t.ssl!.tls, t.netns, t.custom.length, typeof t.crc32c], [
      ascii('h2'), 'a', ascii('u'), true, 'n', 1, 'number',
    ]);
  });
  it('returns copies: changing the input afterwards changes nothing', () => {
    const bytes = withTlvs(tlv(0x05, 'id'), tlv(0xe0, 'v'));
    const t = parsedHeader(bytes).tlvs;
    bytes.fill(0);
    assert.deepEqual([t.uniqueId, t.custom[0]!.value], [ascii('id'), ascii('v')]);
  });
});

describe('parseProxyHeader v2 TLVs: malformed, with the reason', () => {
  const table: [name: string, bytes: Uint8Array, reason: string][] = [
    ['a cut TLV header', withTlvs([0x02, 0]), 'v2: TLV at byte 28 is cut: 2 of its 3 header bytes before the header end'],
    ['a lone type byte after a TLV', withTlvs(tlv(0x04, []), [0xe0]), 'v2: TLV at byte 31 is cut: 1 of its 3 header bytes before the header end'],
    ['a value past the header end', withTlvs(tlv(0x02, 'abc', 10)), 'v2: AUTHORITY TLV at byte 28 has length 10, but 3 bytes remain in the header'],
    ['a custom value past the end', withTlvs(tlv(0xe1, '', 1)), 'v2: type 0xE1 TLV at byte 28 has length 1, but 0 bytes remain in the header'],
    ['AUTHORITY over 255', withTlvs(tlv(0x02, 'x'.repeat(256))), 'v2: AUTHORITY TLV length 256 exceeds 255'],
    ['AUTHORITY not UTF-8', withTlvs(tlv(0x02, [0x61, 0xff])), 'v2: AUTHORITY TLV at byte 28 is not UTF-8'],
    ['CRC32C of 3 bytes', withTlvs(tlv(0x03, [0, 0, 0])), 'v2: CRC32C TLV length 3, expected 4'],
    ['CRC32C wrong', withTlvs(tlv(0x03, [0, 0, 0, 1])), `v2: CRC32C mismatch: header says 0x00000001, bytes give 0x${computeCrc32c(withTlvs(tlv(0x03, [0, 0, 0, 0]))).toString(16).toUpperCase().padStart(8, '0')}`],
    ['UNIQUE_ID over 128', withTlvs(tlv(0x05, new Uint8Array(129))), 'v2: UNIQUE_ID TLV length 129 exceeds 128'],
    ['SSL shorter than 5', withTlvs(tlv(0x20, [1, 0, 0, 0])), 'v2: SSL TLV length 4 is shorter than its 5 bytes of client and verify'],
    ['a cut SSL sub-TLV', withTlvs(tlv(0x20, ssl(1, 0, [0x21, 0]))), 'v2: SSL sub-TLV at byte 36 is cut: 2 of its 3 header bytes before the SSL TLV\'s end'],
    ['an SSL sub-TLV past the SSL end', withTlvs(tlv(0x20, ssl(1, 0, tlv(0x23, 'AES', 4))), tlv(0x04, 'pad')), 'v2: SSL CIPHER sub-TLV at byte 36 has length 4, but 3 bytes remain in the SSL TLV'],
    ['an unknown SSL sub-TLV past the SSL end', withTlvs(tlv(0x20, ssl(1, 0, tlv(0x2f, '', 1)))), 'v2: SSL sub-type 0x2F sub-TLV at byte 36 has length 1, but 0 bytes remain in the SSL TLV'],
    ['a duplicate SSL VERSION', withTlvs(tlv(0x20, ssl(1, 0, tlv(0x21, 'a'), tlv(0x21, 'b')))), 'v2: duplicate SSL VERSION sub-TLV at byte 40'],
    ['SSL CIPHER not ASCII', withTlvs(tlv(0x20, ssl(1, 0, tlv(0x23, [0x80])))), 'v2: SSL CIPHER sub-TLV at byte 36 is not US-ASCII'],
    ['SSL CN not UTF-8', withTlvs(tlv(0x20, ssl(1, 0, tlv(0x22, [0xc3])))), 'v2: SSL CN sub-TLV at byte 36 is not UTF-8'],
    ['NETNS not ASCII', withTlvs(tlv(0x30, 'blü')), 'v2: NETNS TLV at byte 28 is not US-ASCII'],
    ['a duplicate AUTHORITY', withTlvs(tlv(0x02, 'a'), tlv(0x02, 'b')), 'v2: duplicate AUTHORITY TLV at byte 32'],
    ['a duplicate CRC32C (the first one right)', twoCrcs(), 'v2: duplicate CRC32C TLV at byte 38'],
    ['a duplicate SSL', withTlvs(tlv(0x20, ssl(0, 1)), tlv(0x20, ssl(0, 1))), 'v2: duplicate SSL TLV at byte 36'],
  ];
  for (const [name, bytes, reason] of table) {
    it(name, () => assert.equal(invalidReason(bytes), reason));
  }
  it('checks a TLV walk that ends in the middle of a LOCAL or UNSPEC header too', () => {
    assert.equal(invalidReason(v2(0x20, 0x00, [0x02, 0, 5, 0x61])), 'v2: AUTHORITY TLV at byte 16 has length 5, but 1 bytes remain in the header');
    assert.equal(invalidReason(v2(0x21, 0x00, [0xe0])), 'v2: TLV at byte 16 is cut: 1 of its 3 header bytes before the header end');
  });
});
