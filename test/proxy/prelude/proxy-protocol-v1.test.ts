// PROXY v1 text lines: every protocol, the length bounds, each malformed line with its exact reason, and the
// early refusals that keep a client that does not speak the protocol from waiting for a timeout.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader } from '../../../src/proxy/prelude/proxy-protocol';
import { ascii, invalidReason, parsedHeader } from '../../helpers/proxy-protocol';

const EMPTY_TLVS = { alpn: null, authority: null, crc32c: null, uniqueId: null, ssl: null, netns: null, custom: [] };

describe('parseProxyHeader v1: valid lines', () => {
  it('parses the spec example and leaves the request after it alone', () => {
    const bytes = ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n');
    assert.deepEqual(parsedHeader(bytes), {
      version: 1,
      command: 'proxy',
      family: 'ipv4',
      transport: 'stream',
      source: { addr: '192.168.0.1', port: 56324 },
      destination: { addr: '192.168.0.11', port: 443 },
      tlvs: EMPTY_TLVS,
      headerLength: 47,
    });
  });
  it('takes ports 0 and 65535 and addresses 0.0.0.0 and 255.255.255.255', () => {
    const h = parsedHeader(ascii('PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n'));
    assert.deepEqual([h.source, h.destination], [{ addr: '0.0.0.0', port: 0 }, { addr: '255.255.255.255', port: 65535 }]);
  });
  it('reports TCP6 addresses in RFC 5952 form, whatever case and compression the sender used', () => {
    const h = parsedHeader(ascii('PROXY TCP6 2001:DB8:0:0:0:0:0:1 FE80::0:1 1 2\r\n'));
    assert.equal(h.family, 'ipv6');
    assert.deepEqual([h.source, h.destination], [{ addr: '2001:db8::1', port: 1 }, { addr: 'fe80::1', port: 2 }]);
  });
  it('reports an IPv4-mapped TCP6 address as IPv4, the way weir reports clients', () => {
    const h = parsedHeader(ascii('PROXY TCP6 ::ffff:10.0.0.1 ::FFFF:a00:2 1000 443\r\n'));
    assert.equal(h.family, 'ipv6');
    assert.deepEqual([h.source!.addr, h.destination!.addr], ['10.0.0.1', '10.0.0.2']);
  });
  it('takes the longest TCP6 line (104 bytes)', () => {
    const max = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = `PROXY TCP6 ${max} ${max} 65535 65535\r\n`;
    assert.equal(line.length, 104);
    assert.equal(parsedHeader(ascii(line)).headerLength, 104);
  });
  it('takes UNKNOWN alone and UNKNOWN followed by anything up to the CRLF, up to 107 bytes', () => {
    const short = parsedHeader(ascii('PROXY UNKNOWN\r\nhello'));
    assert.deepEqual(short, {
      version: 1, command: 'proxy', family: 'unspec', transport: 'unspec', source: null, destination: null,
      tlvs: EMPTY_TLVS, headerLength: 15,
    });
    const max = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const worst = `PROXY UNKNOWN ${max} ${max} 65535 65535\r\n`;
    assert.equal(worst.length, 107);
    assert.equal(parsedHeader(ascii(worst)).headerLength, 107);
    assert.equal(parsedHeader(ascii('PROXY UNKNOWN whatever\x01 \xff\r\n')).headerLength, 27);
  });
});

describe('parseProxyHeader v1: malformed lines and their reasons', () => {
  const table: [line: string, reason: string][] = [
    ['PROXX', 'v1: byte 4 is 0x58, expected "PROXY "'],
    ['PROXY\r\n', 'v1: byte 5 is 0x0D, expected "PROXY "'],
    ['PROXY TCP5 1.2.3.4', 'v1: protocol "TCP5" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY  TCP4', 'v1: protocol "" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY tcp4', 'v1: unexpected byte 0x74 at byte 6 in the protocol'],
    ['PROXY UNKNOWNX\r\n', 'v1: protocol "UNKNOWNX" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY TCP 1.2.3.4', 'v1: protocol "TCP" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY UDP4 1.2.3.4', 'v1: protocol "UD" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY TCP4\r\n', 'v1: line ends after TCP4, expected addresses and ports'],
    ['PROXY TCP4  1.2.3.4', 'v1: empty source address at byte 11'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'v1: line ends after the source port, expected 4 fields after TCP4'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8\r\n', 'v1: line ends after the destination address, expected 4 fields after TCP4'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', 'v1: unexpected space after the destination port at byte 30'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n', 'v1: unexpected byte 0x78 at byte 30 in the destination port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 70000 1\r\n', 'v1: source port 70000 out of range'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', 'v1: destination port 65536 out of range'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 1\r\n', 'v1: source port "01" has a leading zero'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 -1\r\n', 'v1: unexpected byte 0x2D at byte 29 in the destination port'],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', 'v1: source address "01" has a leading zero'],
    ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', 'v1: source address "1.2.3.256" has an octet over 255'],
    ['PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n', 'v1: source address "1.2.3.4." is not a dotted-quad IPv4 address'],
    ['PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', 'v1: TCP4 source address "1.2.3" is not a dotted-quad IPv4 address'],
    ['PROXY TCP4 1.2.3.4 5.6.7. 1 2\r\n', 'v1: TCP4 destination address "5.6.7." is not a dotted-quad IPv4 address'],
    ['PROXY TCP4 ::1 ::1 1 2\r\n', 'v1: unexpected byte 0x3A at byte 11 in the source address'],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', 'v1: TCP6 source address "1.2.3.4" is not an IPv6 address'],
    ['PROXY TCP6 ::1 1::2::3 1 2\r\n', 'v1: TCP6 destination address "1::2::3" is not an IPv6 address'],
    ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'v1: unexpected byte 0x25 at byte 18 in the source address'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'v1: LF without CR at byte 30'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', 'v1: CR at byte 30 is not followed by LF'],
    ['PROXY UNKNOWN\n', 'v1: LF without CR at byte 13'],
    ['PROXY UNKNOWN a\rb\r\n', 'v1: CR at byte 15 is not followed by LF'],
    [`PROXY UNKNOWN ${'a'.repeat(93)}\r\n`, 'v1: no CRLF within the first 107 bytes'],
    [`PROXY TCP6 ${'1:'.repeat(23)}`, 'v1: source address is longer than 45 characters'],
  ];
  for (const [line, reason] of table) {
    it(JSON.stringify(line), () => assert.equal(invalidReason(ascii(line)), reason));
  }
  it('refuses a 108-byte UNKNOWN line, one past the spec bound', () => {
    const line = `PROXY UNKNOWN ${'a'.repeat(92)}\r\n`;
    assert.equal(line.length, 108);
    assert.equal(invalidReason(ascii(line)), 'v1: no CRLF within the first 107 bytes');
    assert.equal(parsedHeader(ascii(line.slice(0, 91 + 14) + '\r\n')).headerLength, 107);
  });
});

describe('parseProxyHeader v1: decides as early as the bytes allow', () => {
  // each prefix is the shortest that proves the line bad
  const table: [prefix: string, reason: string][] = [
    ['PO', 'v1: byte 1 is 0x4F, expected "PROXY "'],
    ['PROXY UD', 'v1: protocol "UD" is none of TCP4, TCP6, UNKNOWN'],
    ['PROXY TCP4 300', 'v1: source address "300" has an octet over 255'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536', 'v1: source port 65536 out of range'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 00', 'v1: source port "00" has a leading zero'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r', 'v1: CR at byte 30 is not followed by LF'],
  ];
  for (const [prefix, reason] of table) {
    it(JSON.stringify(prefix), () => {
      assert.equal(invalidReason(ascii(prefix)), reason);
      assert.equal(parseProxyHeader(ascii(prefix.slice(0, -1))).kind, 'need-more');
    });
  }
  it('waits, without refusing, on every prefix of a valid line, and asks for at least one more byte', () => {
    const line = 'PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 0\r\n';
    for (let n = 0; n < line.length; n++) {
      const r = parseProxyHeader(ascii(line.slice(0, n)));
      assert.equal(r.kind, 'need-more', `prefix ${n}`);
      assert.ok(r.kind === 'need-more' && r.atLeast > n && r.atLeast >= Math.min(15, line.length));
    }
  });
});
