// apisix.dns_resolver and dns_resolver_valid: absent, values, precise errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const apisix = (lines: string) => `apisix:\n${lines}\n`;

describe('DNS settings', () => {
  it('absent: no dns entry (the system resolver)', () => {
    assert.equal(parseOk('').config.dns, undefined);
  });

  it('reads servers with and without ports, IPv4 and IPv6, and the validity, without warnings', () => {
    const { config, warnings } = parseOk(
      apisix('  dns_resolver:\n    - 10.0.0.53\n    - "127.0.0.1:5353"\n    - "::1"\n    - "[fd00::53]:53"\n  dns_resolver_valid: 30'),
    );
    assert.deepEqual(config.dns, { servers: ['10.0.0.53', '127.0.0.1:5353', '::1', '[fd00::53]:53'], validMs: 30_000 });
    assert.deepEqual(warnings, []);
  });

  it('dns_resolver_valid alone keeps the system resolver', () => {
    assert.deepEqual(parseOk(apisix('  dns_resolver_valid: 5')).config.dns, { servers: null, validMs: 5000 });
  });

  const invalid: [string, string][] = [
    ['  dns_resolver: 10.0.0.53', 'apisix.dns_resolver: expected a list of DNS server addresses, got "10.0.0.53"'],
    ['  dns_resolver:\n    - dns.example.com', 'apisix.dns_resolver[0]: expected an IP address, optionally with a port ("10.0.0.53", "10.0.0.53:53", "[fd00::53]:53"), got "dns.example.com"'],
    ['  dns_resolver:\n    - "10.0.0.53:70000"', 'apisix.dns_resolver[0]: expected an IP address, optionally with a port ("10.0.0.53", "10.0.0.53:53", "[fd00::53]:53"), got "10.0.0.53:70000"'],
    ['  dns_resolver:\n    - "[10.0.0.53]:53"', 'apisix.dns_resolver[0]: expected an IP address, optionally with a port ("10.0.0.53", "10.0.0.53:53", "[fd00::53]:53"), got "[10.0.0.53]:53"'],
    ['  dns_resolver_valid: 0', 'apisix.dns_resolver_valid: expected whole seconds 1..86400, got 0'],
    ['  dns_resolver_valid: 1.5', 'apisix.dns_resolver_valid: expected whole seconds 1..86400, got 1.5'],
  ];
  for (const [lines, error] of invalid) {
    it(`names the key and the value: ${lines.trim().split('\n').join(' ')}`, () => {
      assert.equal(parseError(apisix(lines)), error);
    });
  }
});
