// nginx_config.stream.udp_max_sessions and proxy_responses: defaults, values, precise errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const stream = (lines: string) => `nginx_config:\n  stream:\n${lines}\n`;

describe('UDP session settings', () => {
  it('default to 10000 sessions and no reply limit', () => {
    assert.deepEqual(parseOk('').config.udp, { maxSessions: 10_000, responses: null });
  });

  it('read both keys without warnings', () => {
    const { config, warnings } = parseOk(stream('    udp_max_sessions: 64\n    proxy_responses: 1'));
    assert.deepEqual(config.udp, { maxSessions: 64, responses: 1 });
    assert.deepEqual(warnings, []);
  });

  it('accept proxy_responses 0 (no reply expected, as in nginx)', () => {
    assert.equal(parseOk(stream('    proxy_responses: 0')).config.udp.responses, 0);
  });

  const invalid: [string, string][] = [
    ['udp_max_sessions: 0', 'nginx_config.stream.udp_max_sessions: expected an integer 1..1000000, got 0'],
    ['udp_max_sessions: "many"', 'nginx_config.stream.udp_max_sessions: expected an integer 1..1000000, got "many"'],
    ['proxy_responses: 1.5', 'nginx_config.stream.proxy_responses: expected an integer 0..2147483647, got 1.5'],
    ['proxy_responses: -1', 'nginx_config.stream.proxy_responses: expected an integer 0..2147483647, got -1'],
  ];
  for (const [line, error] of invalid) {
    it(`names the key and the value: ${line}`, () => {
      assert.equal(parseError(stream(`    ${line}`)), error);
    });
  }
});
