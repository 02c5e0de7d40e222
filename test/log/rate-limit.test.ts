// The per-reason warning limiter: first line of a period written, the rest counted and reported.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimitedWarn } from '../../src/log/rate-limit';

function limiter() {
  const lines: Array<[string, Record<string, unknown>]> = [];
  let now = 1000;
  const warn = new RateLimitedWarn({ periodMs: 10_000, now: () => now, emit: (m, f) => lines.push([m, f]), flushTimer: false });
  return { warn, lines, advance: (ms: number) => (now += ms) };
}

describe('RateLimitedWarn', () => {
  it('writes one line per reason per period, then the next one carries the suppressed count', () => {
    const { warn, lines, advance } = limiter();
    for (let i = 0; i < 5; i++) warn.warn('unknown_sni', 'TLS handshake failed', { n: i });
    warn.warn('no_sni', 'TLS handshake failed', { n: 9 });
    advance(9_999);
    warn.warn('unknown_sni', 'TLS handshake failed', { n: 5 });
    assert.deepEqual(lines, [
      ['TLS handshake failed', { n: 0 }],
      ['TLS handshake failed', { n: 9 }],
    ]);
    advance(1);
    warn.warn('unknown_sni', 'TLS handshake failed', { n: 6 });
    assert.deepEqual(lines[2], ['TLS handshake failed', { n: 6, suppressed: 5 }]);
  });

  it('flush() summarises a reason that went quiet, once, and close() reports what is pending', () => {
    const { warn, lines, advance } = limiter();
    warn.warn('timeout', 'TLS handshake failed', { n: 0 });
    warn.warn('timeout', 'TLS handshake failed', { n: 1 });
    warn.warn('timeout', 'TLS handshake failed', { n: 2 });
    warn.flush(); // period not over: nothing yet
    assert.equal(lines.length, 1);
    advance(10_000);
    warn.flush();
    warn.flush();
    assert.deepEqual(lines.slice(1), [['TLS handshake failed', { reason: 'timeout', suppressed: 2 }]]);
    // the reason was forgotten: its next hit is written at once, without a count
    warn.warn('timeout', 'TLS handshake failed', { n: 3 });
    warn.warn('timeout', 'TLS handshake failed', { n: 4 });
    warn.close();
    assert.deepEqual(lines.slice(2), [
      ['TLS handshake failed', { n: 3 }],
      ['TLS handshake failed', { reason: 'timeout', suppressed: 1 }],
    ]);
  });
});
