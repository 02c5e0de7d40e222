// nginx_config.stream UDP settings: udp_max_sessions, proxy_responses, the flood limits (per source, rate,
// burst) and udp_rcvbuf: defaults, values, precise errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const stream = (lines: string) => `nginx_config:\n  stream:\n${lines}\n`;
const DEFAULT_ADMISSION = { maxPerSource: 1000, rate: 5000, burst: 1000 };

describe('UDP session settings', () => {
  it('default to 10000 sessions, no reply limit, 1000 per source, 5000 new per second, a 4 MiB buffer', () => {
    assert.deepEqual(parseOk('').config.udp, { maxSessions: 10_000, responses: null, admission: DEFAULT_ADMISSION, rcvbuf: 4 * 1024 * 1024 });
  });

  it('read both keys without warnings', () => {
    const { config, warnings } = parseOk(stream('    udp_max_sessions: 64\n    proxy_responses: 1'));
    assert.deepEqual(config.udp, { maxSessions: 64, responses: 1, admission: DEFAULT_ADMISSION, rcvbuf: 4 * 1024 * 1024 });
    assert.deepEqual(warnings, []);
  });

  it('accept proxy_responses 0 (no reply expected, as in nginx)', () => {
    assert.equal(parseOk(stream('    proxy_responses: 0')).config.udp.responses, 0);
  });

  it('read the flood limits; the burst is a fifth of the rate unless set; 0 turns a limit off', () => {
    const read = (lines: string) => parseOk(stream(lines)).config.udp.admission;
    assert.deepEqual(read('    udp_max_sessions_per_source: 8\n    udp_session_rate: 200'), { maxPerSource: 8, rate: 200, burst: 40 });
    assert.deepEqual(read('    udp_session_rate: 200\n    udp_session_burst: 50'), { maxPerSource: 1000, rate: 200, burst: 50 });
    assert.deepEqual(read('    udp_max_sessions_per_source: 0\n    udp_session_rate: 0'), { maxPerSource: 0, rate: 0, burst: 0 });
    assert.deepEqual(parseOk(stream('    udp_session_rate: 10')).warnings, []);
  });

  it('read udp_rcvbuf as an nginx size or bytes', () => {
    const rcvbuf = (v: string) => parseOk(stream(`    udp_rcvbuf: ${v}`)).config.udp.rcvbuf;
    assert.deepEqual([rcvbuf('8m'), rcvbuf('512k'), rcvbuf('"16M"'), rcvbuf('1g'), rcvbuf('65536')], [8 * 1024 * 1024, 512 * 1024, 16 * 1024 * 1024, 1024 ** 3, 65536]);
  });

  const invalid: [string, string][] = [
    ['udp_max_sessions: 0', 'nginx_config.stream.udp_max_sessions: expected an integer 1..1000000, got 0'],
    ['udp_max_sessions: "many"', 'nginx_config.stream.udp_max_sessions: expected an integer 1..1000000, got "many"'],
    ['proxy_responses: 1.5', 'nginx_config.stream.proxy_responses: expected an integer 0..2147483647, got 1.5'],
    ['proxy_responses: -1', 'nginx_config.stream.proxy_responses: expected an integer 0..2147483647, got -1'],
    ['udp_max_sessions_per_source: -1', 'nginx_config.stream.udp_max_sessions_per_source: expected an integer 0..1000000, got -1'],
    ['udp_session_rate: 1.5', 'nginx_config.stream.udp_session_rate: expected an integer 0..10000000, got 1.5'],
    ['udp_session_burst: "lots"', 'nginx_config.stream.udp_session_burst: expected an integer 0..10000000, got "lots"'],
    ['udp_rcvbuf: 4x', 'nginx_config.stream.udp_rcvbuf: expected a size from 64k to 1g, like "4m" or "512k" (or bytes), got "4x"'],
    ['udp_rcvbuf: 1k', 'nginx_config.stream.udp_rcvbuf: expected a size from 64k to 1g, like "4m" or "512k" (or bytes), got "1k"'],
    ['udp_rcvbuf: 2g', 'nginx_config.stream.udp_rcvbuf: expected a size from 64k to 1g, like "4m" or "512k" (or bytes), got "2g"'],
  ];
  for (const [line, error] of invalid) {
    it(`names the key and the value: ${line}`, () => {
      assert.equal(parseError(stream(`    ${line}`)), error);
    });
  }
});
