// apisix.ssl (fallback_sni) and apisix.data_encryption (keyring): the TLS settings of config.yaml.
// Runs once at start (pure).

import { ConfigError, type TlsSettings } from './types';
import { checkKeys, describeValue, readBool, readList, readMap, readString, type ReadCtx, type YamlMap } from './read';
import { MIN_KEYRING_ENTRY } from '../tls/keyring';

const HOST = /^[A-Za-z0-9._-]+$/;

/**
 * `apisix.ssl.fallback_sni`: the SNI assumed when a TLS client sends none (APISIX's key; weir applies it
 * to TLS listeners only). `apisix.data_encryption.keyring`: a list of secrets of 16 or more characters;
 * the first encrypts private keys at rest, all decrypt (rotation). `enable_encrypt_fields: false` turns
 * encryption off, as in APISIX.
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
  const list = readList(enc.keyring, 'apisix.data_encryption.keyring', 'a list of secrets') ?? [];
  const keyring = list.map((entry, i) => {
    const path = `apisix.data_encryption.keyring[${i}]`;
    const text = typeof entry === 'number' ? String(entry) : entry;
    if (typeof text !== 'string' || text.length < MIN_KEYRING_ENTRY) {
      throw new ConfigError(path, `expected a secret of at least ${MIN_KEYRING_ENTRY} characters`);
    }
    return text;
  });
  return {
    fallbackSni: fallback === undefined ? null : fallback.toLowerCase().replace(/\.$/, ''),
    keyring: enabled && keyring.length > 0 ? keyring : null,
    encryptionEnabled: enabled,
  };
}
