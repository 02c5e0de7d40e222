// SessionAdmission: the per-source cap, a listener's own cap, the new-session token bucket (burst, then the rate), its narrowing while
// the event loop is behind under a flood of new clients, the counts per reason, and one warning line per reason
// and second with the number held back, and new limits from a reload. Pure: the test drives the clock and the ticks.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UDP_ADMISSION, RATE_FLOOR, SessionAdmission, type SessionRefusal } from '../../../src/proxy/session/udp-admission';
import { RateLimitedWarn } from '../../../src/log/rate-limit';

function admission(settings: { maxPerSource: number; rate: number; burst: number }, clock = { now: 0 }) {
  const lines: Array<[string, Record<string, unknown>]> = [];
  const warn = new RateLimitedWarn({ periodMs: 1000, emit: (m, f) => lines.push([m, { ...f }]), now: () => clock.now, flushTimer: false });
  return { a: new SessionAdmission(settings, clock.now, warn), lines, warn, clock };
}

describe('SessionAdmission', () => {
  it('refuses a source at its cap and admits it again below it', () => {
    const { a } = admission({ maxPerSource: 3, rate: 0, burst: 0 });
    assert.deepEqual([0, 1, 2, 3, 4, 2].map((n) => a.admit(n, 0)), [null, null, null, 'per_source', 'per_source', null]);
    assert.deepEqual(a.refused(), { per_source: 2, listener_max_sessions: 0, rate: 0, overload: 0 });
  });

  it('lets the burst through at once, then the rate', () => {
    const { a } = admission({ maxPerSource: 0, rate: 10, burst: 4 });
    // t=0: 4 tokens  ->  A A A A R
    const at0 = Array.from({ length: 5 }, () => a.admit(0, 0));
    assert.deepEqual(at0, [null, null, null, null, 'rate']);
    // 10/s: one token per 100 ms  ->  t=50 R, t=100 A, t=150 R, t=300 A A (two saved up)
    assert.deepEqual([50, 100, 150, 300, 300, 300].map((t) => a.admit(0, t)), ['rate', null, 'rate', null, null, 'rate']);
    assert.deepEqual(a.refused(), { per_source: 0, listener_max_sessions: 0, rate: 4, overload: 0 });
  });

  it('over a long flood admits rate x time + burst, whatever the attempt rate', () => {
    const { a } = admission({ maxPerSource: 0, rate: 500, burst: 100 });
    let admitted = 0;
    for (let t = 0; t <= 10_000; t += 0.25) if (a.admit(0, t) === null) admitted++; // 4 attempts per ms for 10 s
    assert.equal(admitted, 500 * 10 + 100);
    assert.equal(a.refused().rate, 40_001 - admitted);
  });

  it('checks the per-source cap first: a source at its cap takes no token from the others', () => {
    const { a } = admission({ maxPerSource: 1, rate: 1, burst: 1 });
    assert.equal(a.admit(1, 0), 'per_source');
    assert.equal(a.admit(0, 0), null); // the one token was still there
    assert.equal(a.admit(0, 0), 'rate');
  });

  it('with both limits off admits everything and counts nothing', () => {
    const { a, lines } = admission({ maxPerSource: 0, rate: 0, burst: 0 });
    for (let i = 0; i < 1000; i++) assert.equal(a.admit(i, 0), null);
    assert.deepEqual(a.refused(), { per_source: 0, listener_max_sessions: 0, rate: 0, overload: 0 });
    assert.deepEqual(lines, []);
  });

  it('a burst of 0 means a fifth of a second of the rate', () => {
    const { a } = admission({ maxPerSource: 0, rate: 10, burst: 0 });
    assert.deepEqual([0, 0, 0].map((t) => a.admit(0, t)), [null, null, 'rate']);
  });

  it('writes at most one line per reason and second, then the number held back', () => {
    const { a, lines, clock } = admission({ maxPerSource: 2, rate: 1, burst: 1 });
    const refusals: Array<SessionRefusal | null> = [];
    for (let i = 0; i < 5; i++) refusals.push(a.admit(2, clock.now)); // per_source x5
    refusals.push(a.admit(0, clock.now), a.admit(0, clock.now)); // one admitted, then rate
    clock.now = 999;
    refusals.push(a.admit(2, clock.now));
    clock.now = 1000;
    refusals.push(a.admit(2, clock.now));
    assert.deepEqual(refusals, ['per_source', 'per_source', 'per_source', 'per_source', 'per_source', null, 'rate', 'per_source', 'per_source']);
    assert.deepEqual(lines, [
      ['udp session refused: sessions per source address reached', { cap: 2, setting: 'nginx_config.stream.udp_max_sessions_per_source' }],
      ['udp session refused: new-session rate reached', { rate: 1, burst: 1, setting: 'nginx_config.stream.udp_session_rate' }],
      ['udp session refused: sessions per source address reached', { cap: 2, setting: 'nginx_config.stream.udp_max_sessions_per_source', suppressed: 5 }],
    ]);
  });

  it('refuses negative limits when made', () => {
    assert.throws(() => new SessionAdmission({ maxPerSource: -1, rate: 0, burst: 0 }, 0), RangeError);
  });

  it('defaults: 1000 sessions per source, 5000 new sessions per second with a burst of 1000', () => {
    assert.deepEqual(DEFAULT_UDP_ADMISSION, { maxPerSource: 1000, rate: 5000, burst: 1000 });
  });
});

describe('SessionAdmission under load', () => {
  /** `n` new clients at `now` (a flood asks at this rate per tick); returns how many were admitted. */
  const ask = (a: SessionAdmission, n: number, now: number): number => {
    let admitted = 0;
    for (let i = 0; i < n; i++) if (a.admit(0, now) === null) admitted++;
    return admitted;
  };

  it('halves the rate per tick while the loop is busy and new clients pour in, down to the floor', () => {
    const { a } = admission({ maxPerSource: 0, rate: 1000, burst: 100 });
    ask(a, 200, 0); // 200 attempts in a 100 ms tick: 2000/s, a flood
    a.observeTick(100, 0, 0.95);
    assert.equal(a.rateScale(), 0.5);
    for (let t = 1; t <= 10; t++) {
      ask(a, 200, t * 100);
      a.observeTick(100, 0, 0.95);
    }
    assert.equal(a.rateScale(), RATE_FLOOR);
  });

  it('treats a late tick like a busy loop (a runtime that cannot tell busyness passes null)', () => {
    const { a } = admission({ maxPerSource: 0, rate: 1000, burst: 100 });
    ask(a, 200, 0);
    a.observeTick(160, 60, null);
    assert.equal(a.rateScale(), 0.5);
  });

  it('does not narrow for a busy loop without a flood of new clients, nor for a flood the loop keeps up with', () => {
    const { a } = admission({ maxPerSource: 0, rate: 1000, burst: 100 });
    ask(a, 50, 0); // 500/s: not a flood
    a.observeTick(100, 70, 1);
    ask(a, 500, 100); // a flood, but on time and idle half the time
    a.observeTick(100, 10, 0.5);
    assert.equal(a.rateScale(), 1);
  });

  it('refuses as "overload" while narrowed, with what was saved up cut to the narrowed burst, and widens back by a quarter per tick', () => {
    const { a } = admission({ maxPerSource: 0, rate: 1000, burst: 100 });
    ask(a, 200, 0); // the burst spent at once: 100 admitted, 100 refused as "rate"
    assert.deepEqual(a.refused(), { per_source: 0, listener_max_sessions: 0, rate: 100, overload: 0 });
    a.observeTick(100, 0, 1); // scale 0.5
    a.observeTick(100, 0, 0.2); // no flood counted in this tick: widens to 0.625
    // 100 ms at 1000/s x 0.625: 62.5 tokens (the narrowed burst is 62.5 too): 62 admitted, 138 refused as "overload"
    assert.equal(ask(a, 200, 100), 62);
    a.observeTick(100, 0, 1); // 0.3125, what was left (0.5) stays under the narrowed burst (31.25)
    // 100 ms at 1000/s x 0.3125 on top of the 0.5 left, capped at the narrowed burst 31.25: 31 admitted
    assert.equal(ask(a, 100, 200), 31);
    assert.deepEqual(a.refused(), { per_source: 0, listener_max_sessions: 0, rate: 100, overload: 138 + 69 });
    let scale = a.rateScale();
    for (let t = 0; t < 3; t++) {
      a.observeTick(100, 0, 0.1);
      assert.equal(a.rateScale(), Math.min(1, scale * 1.25));
      scale = a.rateScale();
    }
  });

});

describe('SessionAdmission: a listener\'s own cap (max_connections on a UDP listener item)', () => {
  it('refuses a new client on a listener at its cap, admits it below; a listener without a cap is never refused', () => {
    const { a } = admission({ maxPerSource: 0, rate: 0, burst: 0 });
    const dns = { max: 2, origin: 'apisix.stream_proxy.udp[0]' };
    const open = { max: null, origin: 'apisix.stream_proxy.udp[1]' };
    assert.deepEqual([0, 1, 2, 5, 1].map((n) => a.admit(0, 0, dns, n)), [null, null, 'listener_max_sessions', 'listener_max_sessions', null]);
    assert.deepEqual([0, 100, 100_000].map((n) => a.admit(0, 0, open, n)), [null, null, null]);
    assert.equal(a.admit(0, 0), null, 'no listener: no listener cap');
    assert.deepEqual(a.refused(), { per_source: 0, listener_max_sessions: 2, rate: 0, overload: 0 });
  });

  it('checks the per-source cap first, and the listener cap before the rate: a refused client takes no token', () => {
    const { a } = admission({ maxPerSource: 1, rate: 1, burst: 1 });
    const l = { max: 3, origin: 'stream_listeners/dns' };
    assert.equal(a.admit(1, 0, l, 3), 'per_source');
    assert.equal(a.admit(0, 0, l, 3), 'listener_max_sessions');
    assert.equal(a.admit(0, 0, l, 2), null); // the one token was still there
    assert.equal(a.admit(0, 0, l, 2), 'rate');
    assert.deepEqual(a.refused(), { per_source: 1, listener_max_sessions: 1, rate: 1, overload: 0 });
  });

  it('reads the cap on each new client, so a reload that changes it applies at once', () => {
    const { a } = admission({ maxPerSource: 0, rate: 0, burst: 0 });
    const spec: { maxSessions?: number } = { maxSessions: 1 };
    const l = { get max() { return spec.maxSessions ?? null; }, origin: 'apisix.stream_proxy.udp[0]' };
    assert.equal(a.admit(0, 0, l, 1), 'listener_max_sessions');
    spec.maxSessions = 2;
    assert.equal(a.admit(0, 0, l, 1), null);
    delete spec.maxSessions;
    assert.equal(a.admit(0, 0, l, 50), null);
  });

  it('writes one line per second for all listeners, naming the cap and the listener that refused', () => {
    const { a, lines, clock } = admission({ maxPerSource: 0, rate: 0, burst: 0 });
    const first = { max: 1, origin: 'apisix.stream_proxy.udp[0]' };
    const second = { max: 4, origin: 'stream_listeners/syslog' };
    for (let i = 0; i < 3; i++) a.admit(0, clock.now, first, 1);
    a.admit(0, clock.now, second, 4);
    clock.now = 1000;
    a.admit(0, clock.now, second, 9);
    // the fields are read when the line is written (as the logger does), so each names the listener of its refusal
    assert.deepEqual(lines, [
      ['udp session refused: listener session cap reached', { cap: 1, setting: 'apisix.stream_proxy.udp[0].max_connections' }],
      ['udp session refused: listener session cap reached', { cap: 4, setting: 'stream_listeners/syslog.max_connections', suppressed: 3 }],
    ]);
  });
});

describe('SessionAdmission.reconfigure (a config reload)', () => {
  it('a lower per-source cap applies to the next new client; a higher one lets it in', () => {
    const { a } = admission({ maxPerSource: 5, rate: 0, burst: 0 });
    assert.equal(a.admit(3, 0), null);
    a.reconfigure({ maxPerSource: 3, rate: 0, burst: 0 });
    assert.equal(a.admit(3, 0), 'per_source');
    a.reconfigure({ maxPerSource: 0, rate: 0, burst: 0 });
    assert.equal(a.admit(3000, 0), null);
    assert.deepEqual(a.settings, { maxPerSource: 0, rate: 0, burst: 0 });
  });

  it('a smaller burst cuts what was saved up; a new rate refills at its own pace', () => {
    const { a } = admission({ maxPerSource: 0, rate: 10, burst: 10 });
    a.reconfigure({ maxPerSource: 0, rate: 100, burst: 3 });
    // 10 tokens saved up, cut to the new burst of 3  ->  A A A R
    assert.deepEqual([0, 0, 0, 0].map((t) => a.admit(0, t)), [null, null, null, 'rate']);
    // 100/s: one token per 10 ms  ->  t=5 R, t=10 A, t=20 A
    assert.deepEqual([5, 10, 20].map((t) => a.admit(0, t)), ['rate', null, null]);
  });

  it('a rate turned on starts with a full bucket; turned off, it admits everything', () => {
    const { a } = admission({ maxPerSource: 0, rate: 0, burst: 0 });
    a.reconfigure({ maxPerSource: 0, rate: 1, burst: 2 });
    assert.deepEqual([0, 0, 0].map((t) => a.admit(0, t)), [null, null, 'rate']);
    a.reconfigure({ maxPerSource: 0, rate: 0, burst: 0 });
    assert.deepEqual([0, 0, 0].map((t) => a.admit(0, t)), [null, null, null]);
  });

  it('the refusal lines name the new limits', () => {
    const { a, lines, clock } = admission({ maxPerSource: 2, rate: 0, burst: 0 });
    a.admit(2, 0);
    a.reconfigure({ maxPerSource: 1, rate: 0, burst: 0 });
    clock.now = 1000;
    a.admit(1, 1000);
    assert.deepEqual(lines, [
      ['udp session refused: sessions per source address reached', { cap: 2, setting: 'nginx_config.stream.udp_max_sessions_per_source' }],
      ['udp session refused: sessions per source address reached', { cap: 1, setting: 'nginx_config.stream.udp_max_sessions_per_source' }],
    ]);
  });

  it('refuses a negative limit and keeps the old ones', () => {
    const { a } = admission({ maxPerSource: 2, rate: 0, burst: 0 });
    assert.throws(() => a.reconfigure({ maxPerSource: -1, rate: 0, burst: 0 }), RangeError);
    assert.deepEqual(a.settings, { maxPerSource: 2, rate: 0, burst: 0 });
    assert.equal(a.admit(2, 0), 'per_source');
  });
});
