// Table tests for SSL validation: APISIX v3 shape, sni xor snis, lengths, secret references, certs/keys pairing.

import { describe } from 'node:test';
import { validateSsl } from '../../src/schema/index';
import { HOST_PAT_Q, field, pem, runTable } from './schema.cases';
import { pem as tlsPem } from '../tls/fixtures';

// Real PEM: the schema parses it and checks that key and certificate belong together.
const CERT = tlsPem.a.cert;
const KEY = tlsPem.a.key;
const THEN = 'invalid configuration: then clause did not match';
const CERT_FAILED = 'failed to parse cert: PEM_read_bio_X509_AUX() failed';
const ELSE = 'invalid configuration: else clause did not match';
const server = (extra: Record<string, unknown>) => ({ cert: CERT, key: KEY, sni: 'test.com', ...extra });

describe('ssl: valid bodies', () => {
  runTable(validateSsl, [
    ['server with sni', { cert: CERT, key: KEY, sni: 'test.com' }, null],
    ['server with snis', { cert: CERT, key: KEY, snis: ['a.com', '*.b.com'] }, null],
    ['explicit type server', server({ type: 'server' }), null],
    ['sni star', server({ sni: '*' }), null],
    ['client type needs no sni', { type: 'client', cert: CERT, key: KEY }, null],
    ['client type may carry sni', { type: 'client', cert: CERT, key: KEY, sni: 'x.com' }, null],
    ['secret references', { cert: '$env://CERT', key: '$secret://vault/1/key', sni: 'a.com' }, null],
    ['max length cert: length passes, then the PEM is parsed', server({ cert: pem(65536) }), CERT_FAILED],
    ['ECDSA extra pair', server({ certs: [tlsPem.wildEc.cert], keys: [tlsPem.wildEc.key] }), null],
    ['key of another certificate', server({ key: tlsPem.a2.key }), 'key does not match cert'],
    ['extra pair mismatched (weir checks what APISIX leaves as a TODO)', server({ certs: [tlsPem.wildEc.cert], keys: [tlsPem.wild.key] }),
      'failed to handle cert-key pair[1]: key does not match cert'],
    ['client.ca is not a certificate', server({ client: { ca: pem(200) } }), `failed to validate client_cert: ${CERT_FAILED}`],
    ['extra cert not PEM', server({ certs: [pem(128)], keys: [KEY] }), `failed to handle cert-key pair[1]: ${CERT_FAILED}`],
    ['key not PEM', server({ key: pem(64) }), 'failed to parse key: PEM_read_bio_PrivateKey() failed'],
    ['key still sealed with another keyring', server({ key: `$weir$enc1$0badc0de$${'A'.repeat(80)}` }), 'failed to decrypt previous encrypted key'],
    ['upper-case $ENV:// references (APISIX ssl.t 22)', { cert: '$ENV://CERT', key: '$Env://KEY', certs: ['$env://C2'], keys: ['$ENV://K2'], sni: 'a.com' }, null],
    ['a client ssl has no extra pairs to check', { type: 'client', cert: CERT, key: KEY, certs: [pem(128)] }, null],
    ['extra pairs', server({ certs: [CERT, '$env://C2'], keys: [KEY, KEY] }), null],
    ['mTLS client', server({ client: { ca: CERT, depth: 2, skip_mtls_uri_regex: ['^/x'] } }), null],
    ['status 0 and protocols', server({ status: 0, ssl_protocols: ['TLSv1.2', 'TLSv1.3'] }), null],
    ['common fields', server({ id: 's1', desc: 'd', labels: { a: 'b' }, create_time: 1, update_time: 2 }), null],
  ]);
});

describe('ssl: invalid bodies', () => {
  runTable(validateSsl, [
    ['empty object', {}, THEN],
    ['server without sni', { cert: CERT, key: KEY }, THEN],
    ['server with sni and snis', server({ snis: ['a.com'] }), THEN],
    ['server without cert', { key: KEY, sni: 'a.com' }, THEN],
    ['client without key', { type: 'client', cert: CERT }, ELSE],
    ['unknown type', server({ type: 'both' }), field('type', 'matches none of the enum values')],
    ['type number', server({ type: 1 }), field('type', 'wrong type: expected string, got number')],
    ['four protocols: the count is checked before the items', server({ ssl_protocols: ['a', 'b', 'c', 'd'] }),
      field('ssl_protocols', 'expect array to have at most 3 items')],
    ['no reference prefix: the length rule applies (APISIX ssl.t 23)', server({ certs: ['https://APISIX_TEST_SSL_CERTS'], keys: ['$ENV://K'] }),
      field('certs[0]', 'string too short, expected at least 128, got 29')],
    ['cert 127 chars', server({ cert: pem(127) }), field('cert', 'string too short, expected at least 128, got 127')],
    ['key 63 chars', server({ key: pem(63) }), field('key', 'string too short, expected at least 64, got 63')],
    ['cert too long', server({ cert: pem(65537) }), field('cert', 'string too long, expected at most 65536, got 65537')],
    ['cert number', server({ cert: 1 }), field('cert', 'wrong type: expected string, got number')],
    ['certs not array', server({ certs: CERT, keys: [KEY] }), field('certs', 'wrong type: expected array, got string')],
    ['certs item short', server({ certs: ['x'], keys: [KEY] }), field('certs[0]', 'string too short, expected at least 128, got 1')],
    ['certs without keys', server({ certs: [CERT] }), 'mismatched number of certs and keys'],
    ['more keys than certs', server({ certs: [CERT], keys: [KEY, KEY] }), 'mismatched number of certs and keys'],
    ['snis empty', { cert: CERT, key: KEY, snis: [] }, field('snis', 'expect array to have at least 1 items')],
    ['snis bad item', { cert: CERT, key: KEY, snis: ['a.com', 'a b'] }, field('snis[1]', `failed to match pattern ${HOST_PAT_Q} with "a b"`)],
    ['sni number', server({ sni: 5 }), field('sni', 'wrong type: expected string, got number')],
    ['client without ca', server({ client: {} }), field('client', 'property "ca" is required')],
    ['client depth negative', server({ client: { ca: CERT, depth: -1 } }), field('client.depth', 'expected -1 to be at least 0')],
    ['status 2', server({ status: 2 }), field('status', 'matches none of the enum values')],
    ['status string', server({ status: '1' }), field('status', 'wrong type: expected integer, got string')],
    ['unknown protocol', server({ ssl_protocols: ['TLSv1.0'] }), field('ssl_protocols[0]', 'matches none of the enum values')],
    ['duplicate protocols', server({ ssl_protocols: ['TLSv1.2', 'TLSv1.2'] }), field('ssl_protocols', 'expected unique items but items 1 and 2 are equal')],
    ['no name field on ssl', server({ name: 'x' }), 'invalid configuration: additional properties forbidden, found name'],
    ['unknown field', server({ foo: 1 }), 'invalid configuration: additional properties forbidden, found foo'],
    ['bad id', server({ id: '*x' }), field('id', 'object matches none of the required')],
    ['array body', [], 'invalid configuration: wrong type: expected object, got table'],
  ]);
});
