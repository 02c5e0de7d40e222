// TLS keys of config.yaml: apisix.ssl.ssl_trusted_certificate and the preread / handshake timeouts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const stream = (lines: string) => `nginx_config:\n  stream:\n${lines}\n`;

describe('TLS config keys', () => {
  it('leave the settings as before when unset (defaults live in the proxy: 30 s each, system roots)', () => {
    assert.deepEqual(parseOk('').config.tls, { fallbackSni: null, keyring: null, encryptionEnabled: true });
  });

  it('read preread_timeout and ssl_handshake_timeout as nginx times, without warnings', () => {
    const { config, warnings } = parseOk(stream('    preread_timeout: 500ms\n    ssl_handshake_timeout: 1m'));
    assert.equal(config.tls?.prereadTimeoutMs, 500);
    assert.equal(config.tls?.handshakeTimeoutMs, 60_000);
    assert.deepEqual(warnings, []);
  });

  it('read ssl_trusted_certificate as written (files are read at start) and no longer warn about it', () => {
    const { config, warnings } = parseOk('apisix:\n  ssl:\n    ssl_trusted_certificate: system, /etc/ca.pem\n');
    assert.equal(config.tls?.trustedCertificate, 'system, /etc/ca.pem');
    assert.deepEqual(warnings, []);
  });

  const invalid: [string, string][] = [
    [stream('    preread_timeout: 0'), 'nginx_config.stream.preread_timeout: expected a time above 0, got 0'],
    [
      stream('    ssl_handshake_timeout: soon'),
      'nginx_config.stream.ssl_handshake_timeout: expected a time like "240s", "1m" or "500ms" (or seconds), got "soon"',
    ],
    [
      'apisix:\n  ssl:\n    ssl_trusted_certificate: "system,,a.pem"\n',
      'apisix.ssl.ssl_trusted_certificate: expected "system" or file paths separated by commas, got "system,,a.pem"',
    ],
  ];
  for (const [text, error] of invalid) {
    it(`refuses ${JSON.stringify(text.trim().split('\n').pop())}`, () => assert.equal(parseError(text), error));
  }
});
