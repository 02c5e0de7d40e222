// IP text <-> bytes for the PROXY protocol: table tests, then random addresses checked against ipaddr.js.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import { formatIpv4, formatIpv6, isIpv4Mapped, parseIpInto, parseIpv4Into, parseIpv6Into } from '../../src/lib/ip-bytes';
import { seededRandom as rng } from '../helpers/proxy-protocol';

function v4(text: string): number[] | null {
  const out = new Uint8Array(4);
  return parseIpv4Into(text, 0, text.length, out, 0) ? [...out] : null;
}
function v6(text: string): string | null {
  const out = new Uint8Array(16);
  return parseIpv6Into(text, 0, text.length, out, 0) ? formatIpv6(out, 0, false) : null;
}

describe('parseIpv4Into', () => {
  it('takes strict dotted quads only', () => {
    assert.deepEqual(v4('0.0.0.0'), [0, 0, 0, 0]);
    assert.deepEqual(v4('255.255.255.255'), [255, 255, 255, 255]);
    assert.deepEqual(v4('192.168.0.11'), [192, 168, 0, 11]);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', 'a.b.c.d', '1234.1.1.1']) {
      assert.equal(v4(bad), null, bad);
    }
  });
});

describe('parseIpv6Into', () => {
  it('takes RFC 4291 text with one "::" and an optional IPv4 tail', () => {
    const table: [string, string | null][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      [':::', null],
      ['1:::2', null],
      ['1::2::3', null],
      [':1', null],
      ['1:', null],
      ['1:2:3:4:5:6:7:8:9', null],
      ['1:2:3:4:5:6:7:8::', null],
      ['12345::', null],
      ['g::', null],
      ['1:2:3:4:5:6:7:1.2.3.4', null],
      ['::1.2.3', null],
      ['::01.2.3.4', null],
      ['fe80::1%eth0', null],
      ['[::1]', null],
    ];
    for (const [text, want] of table) assert.equal(v6(text), want, text);
  });
  it('agrees with ipaddr.js on 20,000 random addresses written in every shape', () => {
    const random = rng(6);
    const out = new Uint8Array(16);
    for (let i = 0; i < 20000; i++) {
      const bytes = Array.from({ length: 16 }, () => (random() < 0.4 ? 0 : Math.floor(random() * 256)));
      const addr = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
      const fixed = addr.parts.map((g) => g.toString(16).padStart(4, '0').toUpperCase()).join(':');
      for (const text of [addr.toNormalizedString(), fixed, addr.toRFC5952String()]) {
        assert.ok(parseIpv6Into(text, 0, text.length, out, 0), text);
        assert.deepEqual([...out], bytes, text);
      }
    }
  });
});

describe('formatIpv6', () => {
  it('writes RFC 5952 text and unmaps IPv4-mapped addresses unless asked not to', () => {
    const bytes = new Uint8Array(16);
    assert.equal(formatIpv6(bytes, 0), '::');
    bytes[15] = 1;
    assert.equal(formatIpv6(bytes, 0), '::1');
    bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    assert.equal(isIpv4Mapped(bytes, 0), true);
    assert.equal(formatIpv6(bytes, 0), '10.0.0.1');
    assert.equal(formatIpv6(bytes, 0, false), '::ffff:10.0.0.1');
    // a single zero group stays "0"; the first of two equal runs is compressed
    bytes.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert.equal(formatIpv6(bytes, 0), '2001:db8:0:1:1:1:1:1');
    bytes.set([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4]);
    assert.equal(formatIpv6(bytes, 0), '1::2:0:0:3:4');
  });
  it('agrees with ipaddr.js toRFC5952String on 20,000 random addresses', () => {
    const random = rng(52);
    for (let i = 0; i < 20000; i++) {
      const bytes = Uint8Array.from({ length: 16 }, () => (random() < 0.5 ? 0 : Math.floor(random() * 256)));
      const addr = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6;
      const want = addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toRFC5952String();
      assert.equal(formatIpv6(bytes, 0), want);
    }
  });
});

describe('parseIpInto', () => {
  it('reports the family, unmaps IPv4-mapped IPv6 and drops a zone', () => {
    const out = new Uint8Array(16);
    assert.equal(parseIpInto('127.0.0.1', out), 4);
    assert.equal(formatIpv4(out, 0), '127.0.0.1');
    assert.equal(parseIpInto('::ffff:127.0.0.2', out), 4);
    assert.equal(formatIpv4(out, 0), '127.0.0.2');
    assert.equal(parseIpInto('fe80::1%eth0', out), 6);
    assert.equal(formatIpv6(out, 0), 'fe80::1');
    assert.equal(parseIpInto('::1', out), 6);
    assert.equal(parseIpInto('/run/weir.sock', out), 0);
    assert.equal(parseIpInto('', out), 0);
    assert.equal(parseIpInto('1.2.3.4%eth0', out), 0);
    assert.equal(parseIpInto(undefined as unknown as string, out), 0);
  });
});
