// nginx_config.stream.real_ip_from: forms, canonical output, and the exact error for each wrong item.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk, streamYaml } from './helpers';

const KEY = 'nginx_config.stream.real_ip_from';

function withRealIp(value: string, tcp = ['{addr: 9100, proxy_protocol: true}']): string {
  return `${streamYaml(tcp)}nginx_config:\n  stream:\n    real_ip_from: ${value}\n`;
}

describe('nginx_config.stream.real_ip_from', () => {
  it('is absent by default: every peer is trusted', () => {
    assert.equal(parseOk(streamYaml(['{addr: 9100, proxy_protocol: true}'])).config.realIpFrom, undefined);
  });

  it('reads IPs and CIDRs, IPv4 and IPv6, into canonical CIDR text', () => {
    const { config, warnings } = parseOk(withRealIp('["10.0.0.0/8", "192.0.2.7", "2001:0db8::/32", "::1", "::ffff:172.16.0.0/108"]'));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.realIpFrom, ['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32', '::1/128', '172.16.0.0/12']);
  });

  it('takes a single string as a list of one', () => {
    assert.deepEqual(parseOk(withRealIp('"127.0.0.0/8"')).config.realIpFrom, ['127.0.0.0/8']);
  });

  it('names the bad item and says what is expected', () => {
    const cases: Array<[string, string]> = [
      ['["10.0.0.0/8", "10.0.0.300"]', `${KEY}[1]: "10.0.0.300" is not an IP address or CIDR (e.g. "10.0.0.0/8", "2001:db8::/32")`],
      ['["10.0.0.0/33"]', `${KEY}[0]: "10.0.0.0/33" is not an IP address or CIDR (e.g. "10.0.0.0/8", "2001:db8::/32")`],
      ['"example.com"', `${KEY}: "example.com" is not an IP address or CIDR (e.g. "10.0.0.0/8", "2001:db8::/32")`],
      ['[8080]', `${KEY}[0]: expected an IP address or CIDR, got 8080`],
      ['["unix:"]', `${KEY}[0]: weir listens on no UNIX sockets; name IP addresses or CIDRs`],
      ['{a: 1}', `${KEY}: expected a list of IP addresses or CIDRs like "10.0.0.0/8", got a mapping`],
      ['[]', `${KEY}: an empty list would refuse every PROXY header; leave the key out to trust every peer`],
    ];
    for (const [value, message] of cases) assert.equal(parseError(withRealIp(value)), message, value);
  });

  it('warns when no listener reads PROXY headers', () => {
    assert.deepEqual(parseOk(withRealIp('["10.0.0.0/8"]', ['9100'])).warnings, [
      `${KEY}: no listener has proxy_protocol: true, so no PROXY header is read`,
    ]);
  });
});
