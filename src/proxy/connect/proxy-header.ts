// PROXY protocol sender: compile an upstream's header plan once, then write one v1 or v2 header per connection.
//
// The connect phase (src/proxy/connect/proxy-prefix.ts) calls writeProxyHeader once per connection to an
// upstream that sends the PROXY protocol; the same bytes go out on every connect attempt (retries send it again),
// through PipeOptions.upstreamPrefix, or through connect() before a TLS handshake. The UDP path calls it once per
// session and puts the bytes in front of every datagram. Health checks use writeProxyLocalHeader.
// compileProxyHeaderPlan runs when a snapshot is built, so bad config fails there, never while a connection waits.
//
// Per header: one Uint8Array of the exact size, no ipaddr.js objects; the only parsing is of the two
// address strings the sockets report (unavoidable) into a reused scratch buffer. v1 builds one short string.
//
// Choices:
// - Mixed families (an IPv4 client and an IPv6 server address, or the reverse) are sent as TCP6/UDP6 with
//   the IPv4 side mapped to ::ffff:a.b.c.d, in v1 and v2, as HAProxy does: the spec wants both addresses in
//   one family, and UNKNOWN would make the receiver drop the client address, which is what the header is for.
//   In v1 the mapped side is written "::ffff:a.b.c.d" (RFC 5952 section 5; HAProxy's inet_ntop does the same).
// - Addresses that are neither IPv4 nor IPv6 (a UNIX socket, a missing value) or a port outside 0..65535:
//   v1 sends "PROXY UNKNOWN\r\n", v2 a LOCAL header with family UNSPEC (plus the TLVs), as HAProxy does.
// - A TLV value over its cap is left out, never cut: authority (255 bytes, a DNS name's limit), unique_id
//   (128, the spec's), and 255 bytes for every other text; so a header stays far below any receiver's cap.
//   Fields the spec calls US-ASCII (netns, SSL version, cipher, algorithms) are left out when they are not.
// - `ssl` is sent whenever the plan lists it; a client that did not use TLS gets <client> 0, and <verify> is
//   0 only when a client certificate was presented and verified (the spec's rule), 1 otherwise.
// - A custom TLV whose variable has no value at write time is sent empty (HAProxy sends empty TLVs too).

import { computeCrc32c } from '../../lib/crc32c';
import { formatIpv4, formatIpv6, parseIpInto } from '../../lib/ip-bytes';
import { utf8Length, writeUtf8 } from '../../lib/utf8';
import {
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
  PP2_CLIENT_SSL,
  PP2_FIXED_LENGTH,
  PP2_LOCAL,
  PP2_PROXY,
  PP2_SIGNATURE,
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
  PP2_AUTHORITY_MAX,
} from '../../lib/proxy-protocol-wire';

/** One item of an upstream's `proxy_protocol.tlvs`. */
export type ProxyTlvSpec =
  | 'authority'
  | 'ssl'
  | 'unique_id'
  | 'netns'
  | 'alpn'
  | 'crc32c'
  | { type: number; value: string };

/** An upstream's `proxy_protocol` (or {version: 1} for APISIX's `proxy_protocol_to_upstream`). */
export interface ProxyHeaderSpec {
  version: 1 | 2;
  tlvs?: readonly ProxyTlvSpec[];
}

/** Variables a custom TLV value may name instead of static text: a value that starts with "$" is one. */
export const PROXY_TLV_VARIABLES = ['$route_id', '$server_port'] as const;

type Step =
  | { kind: 'authority' | 'ssl' | 'unique_id' | 'netns' | 'alpn' | 'crc32c' }
  | { kind: 'static'; type: number; value: Uint8Array }
  | { kind: 'route_id' | 'server_port'; type: number };

/** What compileProxyHeaderPlan makes: immutable, shared by every connection to the upstream. */
export interface ProxyHeaderPlan {
  readonly version: 1 | 2;
  readonly transport: 'tcp' | 'udp';
  readonly steps: readonly Step[];
}

export interface ProxyHeaderEndpoint {
  /** As the socket reports it: "1.2.3.4", "::1", "::ffff:1.2.3.4", "fe80::1%eth0". */
  addr: string;
  port: number;
}

/** The client's TLS, when weir terminated it. */
export interface ProxyHeaderSsl {
  /** "TLSv1.3", as node's getProtocol() says. */
  version: string | null;
  /** OpenSSL cipher name, as getCipher().name. */
  cipher: string | null;
  /** The client certificate's subject CN. */
  cn?: string | null;
  sigAlg?: string | null;
  keyAlg?: string | null;
  /** The client presented a certificate in this TLS session. */
  certPresented: boolean;
  /** ...and it was verified. */
  certVerified: boolean;
  /** The session was resumed: the certificate, if any, came on an earlier connection. */
  sessionReused?: boolean;
}

/** Per-connection facts, passed at write time. */
export interface ProxyHeaderFacts {
  /** The client: from an incoming PROXY header when there was one, else the peer. */
  source: ProxyHeaderEndpoint;
  /** The address and port the client connected to. */
  destination: ProxyHeaderEndpoint;
  /** The SNI (authority TLV). */
  authority?: string | null;
  ssl?: ProxyHeaderSsl | null;
  /** The connection id the access log prints (unique_id TLV). */
  uniqueId?: string | null;
  netns?: string | null;
  /** The negotiated ALPN protocol. */
  alpn?: string | null;
  /** For custom TLVs with value "$route_id". */
  routeId?: string | null;
}

const KNOWN = new Set(['authority', 'ssl', 'unique_id', 'netns', 'alpn', 'crc32c']);
/** Longest value of a text TLV or sub-TLV other than authority and unique_id. */
const TEXT_MAX = 255;

/**
 * Compile an upstream's PROXY protocol setting for one transport. Returns the plan, or a reason naming the
 * bad item ("proxy_protocol.tlvs[2]: type 0x90 is not custom (0xE0-0xEF)").
 */
export function compileProxyHeaderPlan(spec: ProxyHeaderSpec, transport: 'tcp' | 'udp'): ProxyHeaderPlan | string {
  if (spec.version !== 1 && spec.version !== 2) return `proxy_protocol.version: ${String(spec.version)} is neither 1 nor 2`;
  const tlvs = spec.tlvs ?? [];
  if (spec.version === 1 && transport === 'udp') {
    return 'proxy_protocol.version: 1 has no UDP form (v1 carries TCP4 and TCP6 only); use 2';
  }
  if (spec.version === 1 && tlvs.length > 0) return 'proxy_protocol.tlvs: TLVs need version 2';
  const steps: Step[] = [];
  const types = new Set<number>();
  for (let i = 0; i < tlvs.length; i++) {
    const item = tlvs[i];
    const where = `proxy_protocol.tlvs[${i}]`;
    if (typeof item === 'string') {
      if (!KNOWN.has(item)) return `${where}: "${item}" is none of ${[...KNOWN].join(', ')} or a custom {type, value}`;
      const type = namedType(item);
      if (types.has(type)) return `${where}: "${item}" is listed twice`;
      types.add(type);
      steps.push({ kind: item as 'authority' });
      continue;
    }
    if (typeof item !== 'object' || item === null) return `${where}: expected a name or {type, value}`;
    const { type, value } = item;
    if (typeof type !== 'number' || !Number.isInteger(type)) {
      return `${where}: type must be an integer 0xE0-0xEF (224-239), got ${JSON.stringify(type) ?? String(type)}`;
    }
    if (type < PP2_TYPE_MIN_CUSTOM || type > PP2_TYPE_MAX_CUSTOM) return `${where}: type ${hexType(type)} is not custom (0xE0-0xEF)`;
    if (types.has(type)) return `${where}: type ${hexType(type)} is listed twice`;
    types.add(type);
    if (typeof value !== 'string') return `${where}: value must be text or one of ${PROXY_TLV_VARIABLES.join(', ')}`;
    if (value.startsWith('$')) {
      if (value === '$route_id') steps.push({ kind: 'route_id', type });
      else if (value === '$server_port') steps.push({ kind: 'server_port', type });
      else return `${where}: unknown variable ${value}; known: ${PROXY_TLV_VARIABLES.join(', ')}`;
      continue;
    }
    const bytes = new TextEncoder().encode(value);
    if (bytes.length > TEXT_MAX) return `${where}: value is ${bytes.length} bytes, over ${TEXT_MAX}`;
    steps.push({ kind: 'static', type, value: bytes });
  }
  return { version: spec.version, transport, steps };
}

/** "0x01", "0xE0": a type number as the spec writes it. */
function hexType(type: number): string {
  return type >= 0 && type < 0x100 ? `0x${type.toString(16).toUpperCase().padStart(2, '0')}` : String(type);
}

function namedType(name: string): number {
  switch (name) {
    case 'authority': return PP2_TYPE_AUTHORITY;
    case 'ssl': return PP2_TYPE_SSL;
    case 'unique_id': return PP2_TYPE_UNIQUE_ID;
    case 'netns': return PP2_TYPE_NETNS;
    case 'alpn': return PP2_TYPE_ALPN;
    default: return PP2_TYPE_CRC32C;
  }
}

// Scratch for the two parsed addresses: the writer is synchronous, so one pair serves every connection.
const SRC = new Uint8Array(16);
const DST = new Uint8Array(16);

/** Build the header for one connection (or one UDP datagram) from the plan and the facts. */
export function writeProxyHeader(plan: ProxyHeaderPlan, facts: ProxyHeaderFacts): Uint8Array {
  const srcFamily = validPort(facts.source.port) ? parseIpInto(facts.source.addr, SRC) : 0;
  const dstFamily = srcFamily && validPort(facts.destination.port) ? parseIpInto(facts.destination.addr, DST) : 0;
  if (plan.version === 1) return writeV1(srcFamily, dstFamily, facts.source.port, facts.destination.port);
  return writeV2(plan, facts, srcFamily, dstFamily);
}

/**
 * The header of a connection weir opens on its own behalf (a health check). v2: LOCAL, family UNSPEC, no
 * TLVs. v1 has no LOCAL; the spec asks for a real line from the check socket's own addresses (local as the
 * source, the server as the destination), and "PROXY UNKNOWN\r\n" when they are not given.
 */
export function writeProxyLocalHeader(version: 1 | 2, local?: ProxyHeaderEndpoint, server?: ProxyHeaderEndpoint): Uint8Array {
  if (version === 2) {
    const out = new Uint8Array(PP2_FIXED_LENGTH);
    out.set(PP2_SIGNATURE);
    out[12] = PP2_LOCAL;
    return out;
  }
  if (!local || !server) return writeAscii('PROXY UNKNOWN\r\n');
  const srcFamily = validPort(local.port) ? parseIpInto(local.addr, SRC) : 0;
  const dstFamily = srcFamily && validPort(server.port) ? parseIpInto(server.addr, DST) : 0;
  return writeV1(srcFamily, dstFamily, local.port, server.port);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

function writeV1(srcFamily: number, dstFamily: number, srcPort: number, dstPort: number): Uint8Array {
  if (srcFamily === 0 || dstFamily === 0) return writeAscii('PROXY UNKNOWN\r\n');
  const line =
    srcFamily === 4 && dstFamily === 4
      ? `PROXY TCP4 ${formatIpv4(SRC, 0)} ${formatIpv4(DST, 0)} ${srcPort} ${dstPort}\r\n`
      : `PROXY TCP6 ${v6Text(SRC, srcFamily)} ${v6Text(DST, dstFamily)} ${srcPort} ${dstPort}\r\n`;
  return writeAscii(line);
}

function v6Text(bytes: Uint8Array, family: number): string {
  return family === 4 ? `::ffff:${formatIpv4(bytes, 0)}` : formatIpv6(bytes, 0, false);
}

function writeAscii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function writeV2(plan: ProxyHeaderPlan, facts: ProxyHeaderFacts, srcFamily: number, dstFamily: number): Uint8Array {
  const proxy = srcFamily !== 0 && dstFamily !== 0;
  const v6 = proxy && (srcFamily === 6 || dstFamily === 6);
  const addrSize = !proxy ? 0 : v6 ? 36 : 12;
  let size = PP2_FIXED_LENGTH + addrSize;
  for (const step of plan.steps) size += stepSize(step, facts);
  const out = new Uint8Array(size);
  out.set(PP2_SIGNATURE);
  out[12] = proxy ? PP2_PROXY : PP2_LOCAL;
  out[13] = !proxy ? 0x00 : (v6 ? 0x20 : 0x10) | (plan.transport === 'udp' ? 0x02 : 0x01);
  out[14] = (size - PP2_FIXED_LENGTH) >> 8;
  out[15] = (size - PP2_FIXED_LENGTH) & 0xff;
  let p = PP2_FIXED_LENGTH;
  if (proxy && !v6) {
    out.set(SRC.subarray(0, 4), p);
    out.set(DST.subarray(0, 4), p + 4);
    p = writePorts(out, p + 8, facts);
  } else if (v6) {
    p = writeV6(out, p, SRC, srcFamily);
    p = writeV6(out, p, DST, dstFamily);
    p = writePorts(out, p, facts);
  }
  let crcAt = -1;
  for (const step of plan.steps) {
    if (step.kind === 'crc32c') crcAt = p + 3;
    p = writeStep(out, p, step, facts);
  }
  if (crcAt >= 0) writeU32(out, crcAt, computeCrc32c(out, 0, size));
  return out;
}

function writeV6(out: Uint8Array, p: number, bytes: Uint8Array, family: number): number {
  if (family === 6) {
    out.set(bytes, p);
  } else {
    out[p + 10] = 0xff; // ::ffff:a.b.c.d; the rest of the fresh buffer is already zero
    out[p + 11] = 0xff;
    out.set(bytes.subarray(0, 4), p + 12);
  }
  return p + 16;
}

function writePorts(out: Uint8Array, p: number, facts: ProxyHeaderFacts): number {
  out[p] = facts.source.port >> 8;
  out[p + 1] = facts.source.port & 0xff;
  out[p + 2] = facts.destination.port >> 8;
  out[p + 3] = facts.destination.port & 0xff;
  return p + 4;
}

function writeU32(out: Uint8Array, p: number, value: number): void {
  out[p] = value >>> 24;
  out[p + 1] = (value >>> 16) & 0xff;
  out[p + 2] = (value >>> 8) & 0xff;
  out[p + 3] = value & 0xff;
}

/** A text value if present and within `max` UTF-8 bytes, else null (left out). */
function capped(text: string | null | undefined, max: number): string | null {
  return text != null && utf8Length(text) <= max ? text : null;
}

/** The same for the fields the spec says are US-ASCII: a value with another character is left out. */
function cappedAscii(text: string | null | undefined): string | null {
  if (text == null || text.length > TEXT_MAX) return null;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return null;
  return text;
}

function sslBytes(ssl: ProxyHeaderSsl): number {
  const cn = capped(ssl.cn, TEXT_MAX);
  return 5 + asciiSize(ssl.version) + (cn === null ? 0 : 3 + utf8Length(cn)) + asciiSize(ssl.cipher) + asciiSize(ssl.sigAlg) + asciiSize(ssl.keyAlg);
}

function asciiSize(text: string | null | undefined): number {
  const value = cappedAscii(text);
  return value === null ? 0 : 3 + value.length;
}

/** Bytes one step adds (its TLV header included), 0 when it is left out. */
function stepSize(step: Step, facts: ProxyHeaderFacts): number {
  let value: string | null;
  switch (step.kind) {
    case 'authority': value = capped(facts.authority, PP2_AUTHORITY_MAX); break;
    case 'unique_id': value = capped(facts.uniqueId, PP2_UNIQUE_ID_MAX); break;
    case 'netns': value = cappedAscii(facts.netns); break;
    case 'alpn': value = capped(facts.alpn, TEXT_MAX); break;
    case 'route_id': value = capped(facts.routeId, TEXT_MAX) ?? ''; break;
    case 'server_port': return 3 + String(facts.destination.port).length;
    case 'crc32c': return 7;
    case 'static': return 3 + step.value.length;
    case 'ssl': return 3 + (facts.ssl ? sslBytes(facts.ssl) : 5);
  }
  return value === null ? 0 : 3 + utf8Length(value);
}

function writeStep(out: Uint8Array, p: number, step: Step, facts: ProxyHeaderFacts): number {
  switch (step.kind) {
    case 'authority': return writeTextTlv(out, p, PP2_TYPE_AUTHORITY, capped(facts.authority, PP2_AUTHORITY_MAX));
    case 'unique_id': return writeTextTlv(out, p, PP2_TYPE_UNIQUE_ID, capped(facts.uniqueId, PP2_UNIQUE_ID_MAX));
    case 'netns': return writeTextTlv(out, p, PP2_TYPE_NETNS, cappedAscii(facts.netns));
    case 'alpn': return writeTextTlv(out, p, PP2_TYPE_ALPN, capped(facts.alpn, TEXT_MAX));
    case 'route_id': return writeTextTlv(out, p, step.type, capped(facts.routeId, TEXT_MAX) ?? '');
    case 'server_port': return writeTextTlv(out, p, step.type, String(facts.destination.port));
    case 'crc32c':
      out[p] = PP2_TYPE_CRC32C;
      out[p + 2] = 4; // value stays zero until the whole header is written
      return p + 7;
    case 'static':
      writeTlvHeader(out, p, step.type, step.value.length);
      out.set(step.value, p + 3);
      return p + 3 + step.value.length;
    case 'ssl': return writeSsl(out, p, facts.ssl ?? null);
  }
}

function writeTlvHeader(out: Uint8Array, p: number, type: number, length: number): void {
  out[p] = type;
  out[p + 1] = length >> 8;
  out[p + 2] = length & 0xff;
}

function writeTextTlv(out: Uint8Array, p: number, type: number, text: string | null): number {
  if (text === null) return p;
  const length = writeUtf8(out, p + 3, text);
  writeTlvHeader(out, p, type, length);
  return p + 3 + length;
}

function writeSsl(out: Uint8Array, p: number, ssl: ProxyHeaderSsl | null): number {
  const v = p + 3;
  let client = 0;
  let verify = 1;
  let q = v + 5;
  if (ssl) {
    client = PP2_CLIENT_SSL;
    if (ssl.certPresented) client |= PP2_CLIENT_CERT_SESS | (ssl.sessionReused ? 0 : PP2_CLIENT_CERT_CONN);
    if (ssl.certPresented && ssl.certVerified) verify = 0;
    // sub-TLVs in HAProxy's order, so the same facts give the same bytes as its send-proxy-v2-ssl-cn
    q = writeTextTlv(out, q, PP2_SUBTYPE_SSL_VERSION, cappedAscii(ssl.version));
    q = writeTextTlv(out, q, PP2_SUBTYPE_SSL_CN, capped(ssl.cn, TEXT_MAX));
    q = writeTextTlv(out, q, PP2_SUBTYPE_SSL_KEY_ALG, cappedAscii(ssl.keyAlg));
    q = writeTextTlv(out, q, PP2_SUBTYPE_SSL_SIG_ALG, cappedAscii(ssl.sigAlg));
    q = writeTextTlv(out, q, PP2_SUBTYPE_SSL_CIPHER, cappedAscii(ssl.cipher));
  }
  out[v] = client;
  writeU32(out, v + 1, verify);
  writeTlvHeader(out, p, PP2_TYPE_SSL, q - v);
  return q;
}

/** Whether the plan sends a TLV whose fact costs something to get (the SSL facts, a connection id). */
export function planSends(plan: ProxyHeaderPlan, kind: 'ssl' | 'unique_id'): boolean {
  for (let i = 0; i < plan.steps.length; i++) if (plan.steps[i]!.kind === kind) return true;
  return false;
}
