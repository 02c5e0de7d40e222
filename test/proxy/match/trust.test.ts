// real_ip_from compiled: which peers may send PROXY headers.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrust } from '../../../src/proxy/match/trust';

describe('compileTrust', () => {
  it('no list: null, so callers trust every peer without a check', () => {
    assert.equal(compileTrust(undefined), null);
  });

  it('matches IPv4 and IPv6 peers against the CIDRs, and nothing that is not an IP', () => {
    const trusted = compileTrust(['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32'])!;
    const table: Array<[string, boolean]> = [
      ['10.1.2.3', true],
      ['11.0.0.1', false],
      ['192.0.2.7', true],
      ['192.0.2.8', false],
      ['2001:db8::1', true],
      ['2001:db9::1', false],
      ['::1', false],
      ['', false],
      ['not an ip', false],
    ];
    assert.deepEqual(table.map(([peer]) => [peer, trusted(peer)]), table);
  });

  it('a ::/0 or 0.0.0.0/0 entry trusts its whole family only', () => {
    const v4 = compileTrust(['0.0.0.0/0'])!;
    assert.deepEqual([v4('203.0.113.9'), v4('2001:db8::1')], [true, false]);
  });
});
