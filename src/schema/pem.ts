// PEM checks shared by the SSL and upstream schemas and the snapshot build: the text parses, the key
// matches the certificate, a CA bundle holds certificates. node:crypto only (present on Bun and Deno).

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isSecretRef } from '../lib/secret-ref';
import { isEncrypted } from '../lib/sealed';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

// APISIX's words (apisix/ssl.lua validate(), with the OpenSSL function nginx's parser names).
export const CERT_PARSE_ERROR = 'failed to parse cert: PEM_read_bio_X509_AUX() failed';
export const KEY_PARSE_ERROR = 'failed to parse key: PEM_read_bio_PrivateKey() failed';
/** A key still sealed with a keyring entry this process does not hold (the store could not open it). */
export const SEALED_KEY_ERROR = 'failed to decrypt previous encrypted key';
/** weir's own check (APISIX leaves it as a TODO): the key must belong to the certificate. */
export const KEY_MISMATCH_ERROR = 'key does not match cert';

export { isSecretRef } from '../lib/secret-ref';

/** Every certificate block of a PEM bundle, parsed; an error string naming `field` when one does not parse. */
export function parseCertificates(pem: string, field: string): X509Certificate[] | string {
  const blocks = pem.match(PEM_CERT);
  if (blocks === null) return `invalid ${field}: no PEM certificate found`;
  const out: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      out.push(new X509Certificate(block));
    } catch (err) {
      return `invalid ${field}: ${(err as Error).message}`;
    }
  }
  return out;
}

/**
 * Check one certificate/key pair as APISIX's validate() does: the certificate parses, the key parses
 * (a still-sealed key cannot). weir also checks that the key belongs to the (first) certificate.
 * References are resolved later and pass. Returns null when fine, else APISIX's message.
 */
export function checkPemPair(cert: string, key: string): string | null {
  if (isSecretRef(cert) || isSecretRef(key)) return null;
  const certs = parseCertificates(cert, 'cert');
  if (typeof certs === 'string') return CERT_PARSE_ERROR;
  if (isEncrypted(key)) return SEALED_KEY_ERROR;
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    return KEY_PARSE_ERROR;
  }
  return certs[0]!.checkPrivateKey(keyObject) ? null : KEY_MISMATCH_ERROR;
}

/** A certificate (bundle) alone, e.g. an SSL's client.ca: null, or APISIX's parse failure. */
export function checkCertificate(pem: string): string | null {
  if (isSecretRef(pem)) return null;
  return typeof parseCertificates(pem, 'cert') === 'string' ? CERT_PARSE_ERROR : null;
}

/** A CA bundle named in config.yaml must hold at least one certificate, each parsing; the message names `field`. */
export function checkCaBundle(pem: string, field: string): string | null {
  const certs = parseCertificates(pem, field);
  return typeof certs === 'string' ? certs : null;
}
