// PEM checks shared by the SSL and upstream schemas and the snapshot build: the text parses, the key
// matches the certificate, a CA bundle holds certificates. node:crypto only (present on Bun and Deno).

import { X509Certificate, createPrivateKey } from 'node:crypto';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** `$env://VAR` and `$secret://...` references are resolved when the snapshot is built, not checked here. */
export function isSecretRef(value: string): boolean {
  return value.startsWith('$env://') || value.startsWith('$secret://');
}

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
 * Check one certificate/key pair: both parse, and the key belongs to the (first) certificate.
 * Returns null when fine, else a message naming the fields ("cert", "keys[1]", "tls.client_key").
 */
export function checkPemPair(cert: string, key: string, certField: string, keyField: string): string | null {
  if (isSecretRef(cert) || isSecretRef(key)) return null;
  const certs = parseCertificates(cert, certField);
  if (typeof certs === 'string') return certs;
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    return `invalid ${keyField}: ${(err as Error).message}`;
  }
  if (!certs[0]!.checkPrivateKey(keyObject)) return `${keyField} does not match ${certField}`;
  return null;
}

/** A CA bundle must hold at least one certificate, each parsing. */
export function checkCaBundle(pem: string, field: string): string | null {
  if (isSecretRef(pem)) return null;
  const certs = parseCertificates(pem, field);
  return typeof certs === 'string' ? certs : null;
}

/** Resolve a `$env://VAR` reference from `env`; other values pass through. Null when unresolvable. */
export function resolveSecretRef(value: string, env: Record<string, string | undefined>): string | null {
  if (value.startsWith('$env://')) return env[value.slice('$env://'.length)] ?? null;
  if (value.startsWith('$secret://')) return null; // TODO: secret managers (vault, aws) are not supported
  return value;
}
