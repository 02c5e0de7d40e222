// TLS keys of config.yaml: apisix.ssl.ssl_trusted_certificate, apisix.data_encryption, and the preread /
// handshake timeouts.

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

  it('read apisix.data_encryption.keyring as a list or as one string (APISIX ssl4.t 2-3)', () => {
    const enc = (body: string) => parseOk(`apisix:\n  data_encryption:\n${body}\n`).config.tls;
    assert.deepEqual(enc('    keyring: edd1c9f0985e76a1'), { fallbackSni: null, keyring: ['edd1c9f0985e76a1'], encryptionEnabled: true });
    assert.deepEqual(enc('    keyring:\n      - edd1c9f0985e76a1\n      - qeddd145sfvddff3')?.keyring, ['edd1c9f0985e76a1', 'qeddd145sfvddff3']);
  });

  it('keys in clear only when the config says so: keyring: null or enable_encrypt_fields: false (ssl4.t 8-11)', () => {
    const enc = (body: string) => parseOk(`apisix:\n  data_encryption:\n${body}\n`).config.tls;
    assert.deepEqual(enc('    keyring: null'), { fallbackSni: null, keyring: null, encryptionEnabled: false });
    assert.deepEqual(enc('    keyring:'), { fallbackSni: null, keyring: null, encryptionEnabled: false });
    assert.deepEqual(enc('    enable_encrypt_fields: false\n    keyring: [edd1c9f0985e76a1]'),
      { fallbackSni: null, keyring: ['edd1c9f0985e76a1'], encryptionEnabled: false });
    // saying nothing keeps keys sealed (weir generates a keyring at start)
    assert.deepEqual(enc('    enable_encrypt_fields: true'), { fallbackSni: null, keyring: null, encryptionEnabled: true });
  });

  const invalid: [string, string][] = [
    ['apisix:\n  data_encryption:\n    keyring: []\n', 'apisix.data_encryption.keyring: expected at least one secret'],
    ['apisix:\n  data_encryption:\n    keyring: short\n', 'apisix.data_encryption.keyring: expected a secret of at least 16 characters'],
    ['apisix:\n  data_encryption:\n    keyring: [edd1c9f0985e76a1, short]\n', 'apisix.data_encryption.keyring[1]: expected a secret of at least 16 characters'],
    ['apisix:\n  data_encryption:\n    keyring: {a: 1}\n', 'apisix.data_encryption.keyring: expected a list of secrets, or one secret, got a mapping'],
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
