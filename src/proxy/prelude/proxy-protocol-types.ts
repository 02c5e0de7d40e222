// Types of the PROXY protocol parser's results, and the small helpers its v1, v2 and TLV parts share.

export type ProxyFamily = 'ipv4' | 'ipv6' | 'unix' | 'unspec';
export type ProxyTransport = 'stream' | 'dgram' | 'unspec';

/** One end of the proxied connection. UNIX: addr is the path ("@name" for an abstract socket), port 0. */
export interface ProxyEndpoint {
  addr: string;
  port: number;
}

/** The SSL TLV (0x20): what the sender saw of the client's TLS. */
export interface ProxySsl {
  /** The raw <client> bit field. */
  client: number;
  /** PP2_CLIENT_SSL: the client connected over TLS. */
  tls: boolean;
  /** PP2_CLIENT_CERT_CONN: the client presented a certificate on this connection. */
  certInConnection: boolean;
  /** PP2_CLIENT_CERT_SESS: the client presented a certificate at least once in this TLS session. */
  certInSession: boolean;
  /** The raw <verify> field: 0 when a client certificate was presented and verified. */
  verify: number;
  /** verify is 0 and a certificate was presented (on this connection or in the session). */
  certVerified: boolean;
  version: string | null;
  cn: string | null;
  cipher: string | null;
  sigAlg: string | null;
  keyAlg: string | null;
}

/** An application-specific TLV, type 0xE0-0xEF. */
export interface ProxyCustomTlv {
  type: number;
  value: Uint8Array;
}

/** The TLVs of a v2 header that weir understands; all null and no custom ones for v1 or a bare v2 header. */
export interface ProxyTlvs {
  /** ALPN (0x01), the bytes as sent. */
  alpn: Uint8Array | null;
  /** AUTHORITY (0x02): the host name the client asked for (the SNI under TLS). */
  authority: string | null;
  /** CRC32C (0x03), already checked against the header. */
  crc32c: number | null;
  /** UNIQUE_ID (0x05): opaque, at most 128 bytes. */
  uniqueId: Uint8Array | null;
  ssl: ProxySsl | null;
  /** NETNS (0x30): the network namespace's name. */
  netns: string | null;
  /** 0xE0-0xEF in the order they came. */
  custom: ProxyCustomTlv[];
}

export interface ProxyHeader {
  version: 1 | 2;
  /** v1 has no command: TCP4, TCP6 and UNKNOWN all report 'proxy'. */
  command: 'local' | 'proxy';
  family: ProxyFamily;
  transport: ProxyTransport;
  /** The client; null for LOCAL, UNSPEC and v1 UNKNOWN: then the socket's own peer is the client. */
  source: ProxyEndpoint | null;
  /** The address the client connected to; null when source is. */
  destination: ProxyEndpoint | null;
  tlvs: ProxyTlvs;
  /** Bytes to consume: the header's own length; anything after it belongs to the client's stream. */
  headerLength: number;
}

export type ProxyParseResult =
  /** Not enough bytes yet; the header needs at least `atLeast` bytes in total (a lower bound for v1). */
  | { kind: 'need-more'; atLeast: number }
  | { kind: 'done'; header: ProxyHeader }
  | { kind: 'invalid'; reason: string };

export type ProxyDatagramResult =
  /** The datagram's payload starts at payloadOffset (equal to header.headerLength). */
  | { kind: 'done'; header: ProxyHeader; payloadOffset: number }
  | { kind: 'invalid'; reason: string };

/** The TLVs of every header that has none (v1, or v2 without TLV bytes): shared, frozen. */
export const EMPTY_TLVS: ProxyTlvs = Object.freeze({
  alpn: null,
  authority: null,
  crc32c: null,
  uniqueId: null,
  ssl: null,
  netns: null,
  custom: Object.freeze([]) as unknown as ProxyCustomTlv[],
});

export function invalid(reason: string): { kind: 'invalid'; reason: string } {
  return { kind: 'invalid', reason };
}

/** "0x0D": a byte as it appears in reasons. */
export function hex2(byte: number): string {
  return '0x' + (byte < 16 ? '0' : '') + byte.toString(16).toUpperCase();
}
