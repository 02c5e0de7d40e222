// apisix.ssl (fallback_sni, ssl_trusted_certificate), apisix.data_encryption (keyring) and the TLS
// timeouts of nginx_config.stream: the TLS settings of config.yaml.
// Runs once at start (pure).

import { ConfigError, type TlsSettings } from './types';
import { checkKeys, describeValue, readBool, readDurationMs, readList, readMap, readString, type ReadCtx, type YamlMap } from './read';
import { MIN_KEYRING_ENTRY } from '../store/keyring';

const HOST = /^[A-Za-z0-9._-]+$/;

/**
 * `apisix.ssl.fallback_sni`: the SNI assumed when a TLS client sends none (APISIX's key; weir applies it
 * to TLS listeners only). `apisix.data_encryption.keyring`: secrets of 16 or more characters (a list, or
 * one string); the first encrypts private keys at rest, all decrypt (rotation). `enable_encrypt_fields:
 * false` or `keyring: null` store new keys in clear, as in APISIX; saying nothing keeps them sealed.
 */
export function readTlsSettings(apisix: YamlMap, ctx: ReadCtx): TlsSettings {
  const ssl = readMap(apisix.ssl, 'apisix.ssl') ?? {};
  checkKeys(ssl, 'apisix.ssl', ctx);
  const fallback = readString(ssl.fallback_sni, 'apisix.ssl.fallback_sni', ctx);
  if (fallback !== undefined && !HOST.test(fallback)) {
    throw new ConfigError('apisix.ssl.fallback_sni', `expected a host name, got ${describeValue(fallback)}`);
  }
  const enc = readMap(apisix.data_encryption, 'apisix.data_encryption') ?? {};
  checkKeys(enc, 'apisix.data_encryption', ctx);
  const enabled = readBool(enc.enable_encrypt_fields, 'apisix.data_encryption.enable_encrypt_fields', true);
  // `keyring: null` (or an empty value) says "no keyring": keys are stored in clear, as in APISIX
  const explicitlyNone = Object.hasOwn(enc, 'keyring') && enc.keyring === null;
  const keyring = readKeyring(enc.keyring);
  const trusted = readString(ssl.ssl_trusted_certificate, 'apisix.ssl.ssl_trusted_certificate', ctx);
  if (trusted !== undefined && trusted.split(',').some((entry) => entry.trim() === '')) {
    throw new ConfigError('apisix.ssl.ssl_trusted_certificate', `expected "system" or file paths separated by commas, got ${describeValue(trusted)}`);
  }
  return {
    fallbackSni: fallback === undefined ? null : fallback.toLowerCase().replace(/\.$/, ''),
    keyring,
    encryptionEnabled: enabled && !explicitlyNone,
    // only present when set, so configs without the key compare equal to what they were before
    ...(trusted === undefined ? {} : { trustedCertificate: trusted }),
  };
}

/**
 * `apisix.data_encryption.keyring`: a list of secrets, or one secret as a plain string (APISIX's older
 * form). Null when absent; an empty list is refused, as APISIX's config schema does.
 */
function readKeyring(value: unknown): string[] | null {
  const path = 'apisix.data_encryption.keyring';
  if (value === undefined || value === null) return null;
  const list = typeof value === 'string' || typeof value === 'number' ? [value] : readList(value, path, 'secrets, or one secret') ?? [];
  if (list.length === 0) throw new ConfigError(path, 'expected at least one secret');
  return list.map((entry, i) => {
    const text = typeof entry === 'number' ? String(entry) : entry;
    if (typeof text !== 'string' || text.length < MIN_KEYRING_ENTRY) {
      throw new ConfigError(Array.isArray(value) ? `${path}[${i}]` : path, `expected a secret of at least ${MIN_KEYRING_ENTRY} characters`);
    }
    return text;
  });
}

/**
 * nginx's `preread_timeout` (how long a TLS listener waits for the ClientHello) and `ssl_handshake_timeout`
 * (how long a terminating handshake may take), under nginx_config.stream like weir's other nginx
 * directives. Both default to 30 s (nginx's ssl_handshake_timeout is 60 s; weir keeps stalled handshakes
 * shorter). Only keys that are set appear in the result. 0 is refused: it would close every connection.
 */
export function readTlsTimeouts(stream: YamlMap): { prereadTimeoutMs?: number; handshakeTimeoutMs?: number } {
  const out: { prereadTimeoutMs?: number; handshakeTimeoutMs?: number } = {};
  for (const [key, field] of [['preread_timeout', 'prereadTimeoutMs'], ['ssl_handshake_timeout', 'handshakeTimeoutMs']] as const) {
    if (stream[key] === undefined || stream[key] === null) continue;
    const path = `nginx_config.stream.${key}`;
    const ms = readDurationMs(stream[key], path, 0);
    if (ms <= 0) throw new ConfigError(path, `expected a time above 0, got ${describeValue(stream[key])}`);
    out[field] = ms;
  }
  return out;
}
