// ip-restriction: APISIX's schema and messages (t/stream-plugin/ip-restriction.t TEST 5), and the compiled
// allow / deny decision for IPv4, IPv6 and IPv4-mapped clients.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipRestriction } from '../../src/plugins/ip-restriction';
import { testConn } from './conn';
import { runConfTable, testContext } from './plugin.cases';

const NONE = 'value should match only one schema, but matches none';

describe('ip-restriction: schema', () => {
  runConfTable('ip-restriction', [
    ['whitelist', { whitelist: ['127.0.0.0/24'] }, null],
    ['blacklist IPv6', { blacklist: ['::1', 'fe80::/10'] }, null],
    ['with message and response_code', { whitelist: ['10.0.0.1'], message: 'go away', response_code: 404 }, null],
    ['an unknown field is kept (APISIX plugin schemas are open)', { whitelist: ['10.0.0.1'], extra: true }, null],
    ['ip-restriction.t TEST 5: validate schema (neither list)', {}, NONE],
    ['both lists', { whitelist: ['10.0.0.1'], blacklist: ['10.0.0.2'] }, 'value should match only one schema, but matches both schemas 1 and 2'],
    ['empty list', { whitelist: [] }, 'property "whitelist" validation failed: expect array to have at least 1 items'],
    ['not an ip', { blacklist: ['10.0.0.1', 'abc'] }, 'property "blacklist" validation failed: failed to validate item 2: object matches none of the required'],
    ['number item', { whitelist: [1] }, 'property "whitelist" validation failed: failed to validate item 1: object matches none of the required'],
    ['CIDR prefix too long', { whitelist: ['10.0.0.0/33'] }, 'property "whitelist" validation failed: failed to validate item 1: object matches none of the required'],
    ['IPv6 the regex lets through, the parser does not', { whitelist: [':/8'] }, 'invalid ip address: :/8'],
    ['IPv6 prefix 129', { whitelist: ['::1/129'] }, 'invalid ip address: ::1/129'],
    ['response_code 500', { whitelist: ['10.0.0.1'], response_code: 500 }, 'property "response_code" validation failed: expected 500 to be at most 404'],
    ['empty message', { whitelist: ['10.0.0.1'], message: '' }, 'property "message" validation failed: string too short, expected at least 1, got 0'],
    ['list not an array', { whitelist: '10.0.0.1' }, 'property "whitelist" validation failed: wrong type: expected array, got string'],
  ]);
});

describe('ip-restriction: decision', () => {
  const compile = (conf: Record<string, unknown>) => ipRestriction.compile(conf, testContext());

  it('whitelist admits listed clients and refuses the others with 403 (the default code)', () => {
    const f = compile({ whitelist: ['127.0.0.0/24', '::1'] });
    assert.equal(f.access!(testConn({ remoteAddr: '127.0.0.9' })), undefined);
    assert.equal(f.access!(testConn({ remoteAddr: '::1' })), undefined);
    assert.deepEqual(f.access!(testConn({ remoteAddr: '127.0.1.1' })), { code: 403, reason: 'ip-restriction: client 127.0.1.1 is not allowed' });
    assert.equal(f.priority, 3000);
  });

  it('blacklist refuses listed clients, with response_code as the logged code', () => {
    const f = compile({ blacklist: ['10.0.0.0/8', '2001:db8::/32'], response_code: 404 });
    assert.deepEqual(f.access!(testConn({ remoteAddr: '10.9.9.9' })), { code: 404, reason: 'ip-restriction: client 10.9.9.9 is not allowed' });
    assert.equal((f.access!(testConn({ remoteAddr: '2001:db8::5' })) as { code: number }).code, 404);
    assert.equal(f.access!(testConn({ remoteAddr: '11.0.0.1' })), undefined);
    assert.equal(f.access!(testConn({ remoteAddr: '2001:db9::5' })), undefined);
  });

  it('an IPv4-mapped entry matches the IPv4 client (sockets report clients unmapped)', () => {
    const f = compile({ whitelist: ['::ffff:192.0.2.1'] });
    assert.equal(f.access!(testConn({ remoteAddr: '192.0.2.1' })), undefined);
  });
});

describe('ip-restriction: explain', () => {
  const table: Array<[string, Record<string, unknown>, string, boolean, string]> = [
    ['whitelisted', { whitelist: ['10.0.0.0/24'] }, '10.0.0.7', true, 'client 10.0.0.7 is in the whitelist: allowed'],
    ['not whitelisted', { whitelist: ['10.0.0.0/24'] }, '10.0.1.7', false, 'client 10.0.1.7 is not in the whitelist: denied (403)'],
    ['blacklisted, response_code 404', { blacklist: ['2001:db8::/32'], response_code: 404 }, '2001:db8::1', false, 'client 2001:db8::1 is in the blacklist: denied (404)'],
    ['not blacklisted', { blacklist: ['2001:db8::/32'] }, '::1', true, 'client ::1 is not in the blacklist: allowed'],
  ];
  for (const [name, conf, client, admits, reason] of table) {
    it(`${name}: ${reason}`, () => {
      const f = ipRestriction.compile(conf, testContext());
      const e = f.explain!(testConn({ remoteAddr: client }));
      assert.deepEqual([e.admits, e.reason], [admits, reason]);
      assert.equal(f.access!(testConn({ remoteAddr: client })) === undefined, admits, 'access decides the same');
    });
  }
});
