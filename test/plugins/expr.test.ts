// lua-resty-expr's `vars` expressions over stream variables: every operator, negation, logic operators, the
// two-item compatibility form, and the compile errors traffic-split reports.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpr } from '../../src/plugins/expr';
import { testConn } from './conn';

const conn = testConn({ remoteAddr: '10.1.2.3', remotePort: 51000, serverAddr: '127.0.0.1', serverPort: 9100, sni: 'a.test.com' });
conn.setVar('mqtt_client_id', 'dev-7');

function matches(vars: unknown): boolean {
  const e = compileExpr(vars, { routeId: '3', serviceId: 's1' });
  if (!e.ok) throw new Error(e.error);
  return e.match(conn);
}

describe('compileExpr: evaluation', () => {
  const rows: Array<[string, unknown, boolean]> = [
    ['empty list matches everything', [], true],
    ['== string', [['remote_addr', '==', '10.1.2.3']], true],
    ['== string, other value', [['remote_addr', '==', '10.1.2.4']], false],
    ['== number compares numerically', [['server_port', '==', 9100]], true],
    ['== number against a non-number', [['remote_addr', '==', 10]], false],
    ['== string against the port text', [['server_port', '==', '9100']], true],
    ['~= string', [['remote_addr', '~=', '10.0.0.1']], true],
    ['~= number, not a number: true', [['server_name', '~=', 5]], true],
    ['> numbers', [['remote_port', '>', 50000]], true],
    ['>= equal', [['remote_port', '>=', 51000]], true],
    ['< false', [['remote_port', '<', 51000]], false],
    ['<= string number', [['remote_port', '<=', '51000']], true],
    ['> on a non-number variable', [['remote_addr', '>', 1]], false],
    ['~~ regex', [['server_name', '~~', '^a\\.test']], true],
    ['~~ regex is case sensitive', [['server_name', '~~', '^A\\.TEST']], false],
    ['~* regex any case', [['server_name', '~*', '^A\\.TEST']], true],
    ['in list', [['route_id', 'in', ['1', '3']]], true],
    ['in list, strings do not equal numbers', [['route_id', 'in', [3]]], false],
    ['has on text is false', [['remote_addr', 'has', '10']], false],
    ['ipmatch CIDR', [['remote_addr', 'ipmatch', ['10.0.0.0/8']]], true],
    ['ipmatch one string', [['remote_addr', 'ipmatch', '192.168.0.0/16']], false],
    ['ipmatch IPv6 rule, IPv4 client', [['remote_addr', 'ipmatch', ['::1']]], false],
    ['! negates', [['server_port', '!', '==', 9100]], false],
    ['! negates a miss', [['server_port', '!', '==', 9101]], true],
    ['operator in capitals', [['route_id', 'IN', ['3']]], true],
    ['two items mean ==', [['route_id', '3']], true],
    ['service_id', [['service_id', '==', 's1']], true],
    ['protocol', [['protocol', '==', 'TCP']], true],
    ['a variable a filter set', [['mqtt_client_id', '==', 'dev-7']], true],
    ['an unset variable is nil', [['nothing', '==', 'x']], false],
    ['nil == null', [['nothing', '==', null]], true],
    ['unknown variable ~= string is true', [['nothing', '~=', 'x']], true],
    ['AND of all by default', [['route_id', '==', '3'], ['server_port', '==', 9101]], false],
    ['OR', ['OR', ['route_id', '==', '9'], ['server_port', '==', 9100]], true],
    ['!OR', ['!OR', ['route_id', '==', '9'], ['server_port', '==', 9100]], false],
    ['AND head', ['AND', ['route_id', '==', '3'], ['server_port', '==', 9100]], true],
    ['!AND', ['!AND', ['route_id', '==', '3'], ['server_port', '==', 9100]], false],
    ['nested logic', [['route_id', '==', '3'], ['OR', ['remote_port', '<', 1], ['server_name', '==', 'a.test.com']]], true],
  ];
  for (const [label, vars, want] of rows) it(label, () => assert.equal(matches(vars), want));
});

describe('compileExpr: errors (lua-resty-expr messages)', () => {
  const rows: Array<[string, unknown, string]> = [
    ['missing', undefined, 'missing argument rule'],
    ['not a list', 'remote_addr', 'rule should be wrapped inside brackets'],
    ['one comparison not wrapped', ['remote_addr', '==', 'x'], 'rule should be wrapped inside brackets'],
    ['bad operator', [['remote_addr', '===', 'x']], "invalid operator '==='"],
    ['bad not', [['remote_addr', '?', '==', 'x']], "bad 'not' expression"],
    ['logic too short', ['OR', ['a', '==', 'b']], 'rule too short'],
    ['empty inner rule', [[]], 'rule too short'],
    ['missing left side', [[null, '==', 'x']], 'invalid expression'],
    ['bad CIDR for ipmatch', [['remote_addr', 'ipmatch', ['10.0.0.0/33']]], 'invalid ip address: 10.0.0.0/33'],
  ];
  for (const [label, vars, want] of rows) {
    it(label, () => assert.deepEqual(compileExpr(vars), { ok: false, error: want }));
  }
  it('a bad regex names the pattern', () => {
    const e = compileExpr([['remote_addr', '~~', '(']]);
    assert.equal(e.ok, false);
    assert.match((e as { error: string }).error, /^failed to compile regex "\(":/);
  });
});
