// IpSet: membership of IPv4/IPv6 addresses in a list of IPs and CIDRs, grouped by prefix length.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IpSet } from '../../../src/proxy/match/ip-set';

describe('IpSet', () => {
  const set = new IpSet(['127.0.0.1', '10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/32', 'fe80::/10', '2001:db8::1', '::ffff:172.16.0.0/108']);
  const rows: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['192.168.1.77', true],
    ['192.168.2.1', false],
    ['0.0.0.0', true],
    ['172.16.5.5', true], // the IPv4-mapped /108 is 172.16.0.0/12
    ['172.32.0.1', false],
    ['fe80::1', true],
    ['febf:ffff::1', true],
    ['fec0::1', false],
    ['2001:db8::1', true],
    ['2001:db8::2', false],
    ['::1', false],
    ['not an ip', false],
    ['', false],
  ];
  for (const [addr, want] of rows) it(`${addr || '(empty)'} -> ${want}`, () => assert.equal(set.has(addr), want));

  it('0.0.0.0/0 and ::/0 take every address of their family', () => {
    const all = new IpSet(['0.0.0.0/0', '::/0']);
    assert.equal(all.has('8.8.8.8'), true);
    assert.equal(all.has('2001:4860::8888'), true);
    assert.equal(new IpSet(['0.0.0.0/0']).has('::1'), false);
  });

  it('an empty list holds nothing; a bad entry throws at compile time', () => {
    assert.equal(new IpSet([]).has('127.0.0.1'), false);
    assert.throws(() => new IpSet(['10.0.0.0/33']), /invalid ip address: 10\.0\.0\.0\/33/);
  });
});
