// The reply check of a UDP probe, pure: any reply, contained bytes, or a pattern over the bytes as Latin-1.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileHealthChecks } from '../../src/health/config';
import { udpReplyMatches } from '../../src/health/probe-udp';

const udp = (u: Record<string, unknown>) => compileHealthChecks({ active: { type: 'udp', udp: { send: 'x', ...u } } })!.active.udp!;

describe('udpReplyMatches', () => {
  it('table', () => {
    const reply = Uint8Array.of(0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x70, 0x6f, 0x6e, 0x67);
    const table: Array<[Record<string, unknown>, boolean]> = [
      [{}, true],
      [{ expect: 'pong' }, true],
      [{ expect: 'ping' }, false],
      [{ expect_hex: '1234' }, true],
      [{ expect_hex: '8180' }, true],
      [{ expect_hex: '8181' }, false],
      [{ expect_hex: '6e6767' }, false], // runs past the end
      [{ expect_regex: '^\\x12\\x34\\x81' }, true], // a DNS answer to query id 0x1234 with RCODE 0
      [{ expect_regex: '^\\x12\\x34\\x81\\x83' }, false], // ... NXDOMAIN would be 0x83
      [{ expect_regex: 'po.g$' }, true],
    ];
    assert.deepEqual(table.map(([u]) => udpReplyMatches(udp(u), reply)), table.map(([, want]) => want));
  });
});
