// Secret references as APISIX reads them: $secret:// as written, $env:// in any case, $env://VAR/field.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretRef, resolveSecretRef } from '../../src/lib/secret-ref';

describe('isSecretRef', () => {
  const rows: [unknown, boolean][] = [
    ['$secret://vault/test/ssl/test.com.crt', true],
    ['$env://APISIX_TEST_SSL_CERT', true],
    ['$ENV://APISIX_TEST_SSL_CERT', true], // APISIX ssl.t 22, tls.t 6
    ['$Env://X', true],
    ['$SECRET://vault/x', false], // the $secret:// prefix is compared as written
    ['https://APISIX_TEST_SSL_CERTS', false], // ssl.t 23
    ['$env:/X', false],
    ['-----BEGIN CERTIFICATE-----', false],
    [1, false],
    [null, false],
  ];
  for (const [value, expected] of rows) it(JSON.stringify(value), () => assert.equal(isSecretRef(value), expected));
});

describe('resolveSecretRef', () => {
  const env = { CERT: 'pem text', JSON: '{"crt":"a","n":1}', BAD: '{' };
  const rows: [string, string | null][] = [
    ['$env://CERT', 'pem text'],
    ['$ENV://CERT', 'pem text'],
    ['$env://MISSING', null],
    ['$env://JSON/crt', 'a'],
    ['$env://JSON/n', null], // not a string
    ['$env://JSON/none', null],
    ['$env://BAD/x', null],
    ['$env://CERT/x', null],
    ['$secret://vault/a/b', null], // TODO in src: secret managers
    ['plain text', 'plain text'],
  ];
  for (const [value, expected] of rows) it(value, () => assert.equal(resolveSecretRef(value, env), expected));
});
