// PROXY protocol v2 TLVs: walk the type-length-value vectors after the address block and keep what weir uses.
// Called by the v2 parser once the whole header is in; the bytes are bounded by the TLV cap before that.
// Checks the CRC32C when one is present, the spec's and HAProxy's value caps, and the SSL sub-TLVs.

import { computeCrc32c } from '../../lib/crc32c';
import {
  PP2_AUTHORITY_MAX,
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
  PP2_CLIENT_SSL,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_CN,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_MAX_CUSTOM,
  PP2_TYPE_MIN_CUSTOM,
  PP2_TYPE_NETNS,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  PP2_UNIQUE_ID_MAX,
} from '../../lib/proxy-protocol-wire';
import { EMPTY_TLVS, hex2, type ProxySsl, type ProxyTlvs } from './proxy-protocol-types';

const TLV_NAMES: Record<number, string> = {
  0x01: 'ALPN', 0x02: 'AUTHORITY', 0x03: 'CRC32C', 0x04: 'NOOP', 0x05: 'UNIQUE_ID', 0x20: 'SSL', 0x30: 'NETNS',
};
const SSL_NAMES: Record<number, string> = {
  0x21: 'SSL VERSION', 0x22: 'SSL CN', 0x23: 'SSL CIPHER', 0x24: 'SSL SIG_ALG', 0x25: 'SSL KEY_ALG',
};
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function tlvName(type: number): string {
  return TLV_NAMES[type] ?? `type ${hex2(type)}`;
}

/** UTF-8 text of b[start, end), or null when the bytes are not UTF-8. */
function decodeUtf8(b: Uint8Array, start: number, end: number): string | null {
  try {
    return UTF8.decode(b.subarray(start, end));
  } catch {
    return null;
  }
}

/** US-ASCII text of b[start, end), or null when a byte is over 0x7F. */
function decodeAscii(b: Uint8Array, start: number, end: number): string | null {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c > 0x7f) return null;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Walk the TLVs in header[start, end) (end is the header's end). Returns the TLVs, or a reason when one is
 * malformed. NOOP, unregistered, experimental and future types are skipped.
 */
export function parseProxyTlvs(b: Uint8Array, start: number, end: number): ProxyTlvs | string {
  if (start === end) return EMPTY_TLVS;
  const tlvs: ProxyTlvs = { alpn: null, authority: null, crc32c: null, uniqueId: null, ssl: null, netns: null, custom: [] };
  let seen = 0; // bit per registered type, to refuse duplicates
  let p = start;
  while (p < end) {
    if (end - p < 3) return `v2: TLV at byte ${p} is cut: ${end - p} of its 3 header bytes before the header end`;
    const type = b[p]!;
    const length = (b[p + 1]! << 8) | b[p + 2]!;
    const v = p + 3;
    if (length > end - v) {
      return `v2: ${tlvName(type)} TLV at byte ${p} has length ${length}, but ${end - v} bytes remain in the header`;
    }
    const bit = registeredBit(type);
    if (bit !== 0) {
      if (seen & bit) return `v2: duplicate ${tlvName(type)} TLV at byte ${p}`;
      seen |= bit;
    }
    const reason = readTlv(b, type, v, v + length, end, tlvs);
    if (reason !== null) return reason;
    p = v + length;
  }
  return tlvs;
}

function registeredBit(type: number): number {
  switch (type) {
    case PP2_TYPE_ALPN: return 1;
    case PP2_TYPE_AUTHORITY: return 2;
    case PP2_TYPE_CRC32C: return 4;
    case PP2_TYPE_UNIQUE_ID: return 8;
    case PP2_TYPE_SSL: return 16;
    case PP2_TYPE_NETNS: return 32;
    default: return 0;
  }
}

/** Store one TLV's value b[v, e) in `tlvs`; a reason when it is not acceptable. */
function readTlv(b: Uint8Array, type: number, v: number, e: number, headerEnd: number, tlvs: ProxyTlvs): string | null {
  const length = e - v;
  switch (type) {
    case PP2_TYPE_ALPN:
      tlvs.alpn = b.slice(v, e);
      return null;
    case PP2_TYPE_AUTHORITY: {
      if (length > PP2_AUTHORITY_MAX) return `v2: AUTHORITY TLV length ${length} exceeds ${PP2_AUTHORITY_MAX}`;
      const authority = decodeUtf8(b, v, e);
      if (authority === null) return `v2: AUTHORITY TLV at byte ${v - 3} is not UTF-8`;
      tlvs.authority = authority;
      return null;
    }
    case PP2_TYPE_CRC32C: {
      if (length !== 4) return `v2: CRC32C TLV length ${length}, expected 4`;
      const sent = ((b[v]! << 24) | (b[v + 1]! << 16) | (b[v + 2]! << 8) | b[v + 3]!) >>> 0;
      const computed = computeCrc32c(b, 0, headerEnd, v);
      if (sent !== computed) return `v2: CRC32C mismatch: header says ${hex8(sent)}, bytes give ${hex8(computed)}`;
      tlvs.crc32c = sent;
      return null;
    }
    case PP2_TYPE_UNIQUE_ID:
      if (length > PP2_UNIQUE_ID_MAX) return `v2: UNIQUE_ID TLV length ${length} exceeds ${PP2_UNIQUE_ID_MAX}`;
      tlvs.uniqueId = b.slice(v, e);
      return null;
    case PP2_TYPE_SSL: {
      const ssl = parseSsl(b, v, e);
      if (typeof ssl === 'string') return ssl;
      tlvs.ssl = ssl;
      return null;
    }
    case PP2_TYPE_NETNS: {
      const netns = decodeAscii(b, v, e);
      if (netns === null) return `v2: NETNS TLV at byte ${v - 3} is not US-ASCII`;
      tlvs.netns = netns;
      return null;
    }
    default:
      if (type >= PP2_TYPE_MIN_CUSTOM && type <= PP2_TYPE_MAX_CUSTOM) tlvs.custom.push({ type, value: b.slice(v, e) });
      return null;
  }
}

/** The SSL TLV: <client> (1 byte), <verify> (4 bytes), then sub-TLVs up to the TLV's end. */
function parseSsl(b: Uint8Array, v: number, e: number): ProxySsl | string {
  if (e - v < 5) return `v2: SSL TLV length ${e - v} is shorter than its 5 bytes of client and verify`;
  const client = b[v]!;
  const verify = ((b[v + 1]! << 24) | (b[v + 2]! << 16) | (b[v + 3]! << 8) | b[v + 4]!) >>> 0;
  const certInConnection = (client & PP2_CLIENT_CERT_CONN) !== 0;
  const certInSession = (client & PP2_CLIENT_CERT_SESS) !== 0;
  const ssl: ProxySsl = {
    client,
    tls: (client & PP2_CLIENT_SSL) !== 0,
    certInConnection,
    certInSession,
    verify,
    certVerified: verify === 0 && (certInConnection || certInSession),
    version: null,
    cn: null,
    cipher: null,
    sigAlg: null,
    keyAlg: null,
  };
  let seen = 0;
  let p = v + 5;
  while (p < e) {
    if (e - p < 3) return `v2: SSL sub-TLV at byte ${p} is cut: ${e - p} of its 3 header bytes before the SSL TLV's end`;
    const type = b[p]!;
    const length = (b[p + 1]! << 8) | b[p + 2]!;
    const sv = p + 3;
    const name = SSL_NAMES[type] ?? `SSL sub-type ${hex2(type)}`;
    if (length > e - sv) return `v2: ${name} sub-TLV at byte ${p} has length ${length}, but ${e - sv} bytes remain in the SSL TLV`;
    if (type >= PP2_SUBTYPE_SSL_VERSION && type <= PP2_SUBTYPE_SSL_KEY_ALG) {
      const bit = 1 << (type - PP2_SUBTYPE_SSL_VERSION);
      if (seen & bit) return `v2: duplicate ${name} sub-TLV at byte ${p}`;
      seen |= bit;
      const value = type === PP2_SUBTYPE_SSL_CN ? decodeUtf8(b, sv, sv + length) : decodeAscii(b, sv, sv + length);
      if (value === null) return `v2: ${name} sub-TLV at byte ${p} is not ${type === PP2_SUBTYPE_SSL_CN ? 'UTF-8' : 'US-ASCII'}`;
      if (type === PP2_SUBTYPE_SSL_VERSION) ssl.version = value;
      else if (type === PP2_SUBTYPE_SSL_CN) ssl.cn = value;
      else if (type === PP2_SUBTYPE_SSL_CIPHER) ssl.cipher = value;
      else if (type === PP2_SUBTYPE_SSL_SIG_ALG) ssl.sigAlg = value;
      else ssl.keyAlg = value;
    }
    p = sv + length;
  }
  return ssl;
}

function hex8(n: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(8, '0');
}
