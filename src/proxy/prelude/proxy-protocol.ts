// PROXY protocol receiver: a pure parser of v1 (text) and v2 (binary) headers over the bytes received so far.
//
// Called by the prelude phase on every connection accepted on a listener with `proxy_protocol: true`, once
// per arriving segment with all bytes buffered so far (a header may come split at any byte), and by the UDP
// path once per datagram (parseProxyDatagram). It never throws and never reads past what it was given.
//
// Bounds: v1 is at most 107 bytes, CRLF included; v2 is 16 + length bytes, where length may exceed the
// family's address block by at most PP2_TLV_CAP (2048) TLV bytes, so a receiver buffers at most 2280 bytes.
// A header split over segments is waited for (the spec recommends tolerance); the caller bounds the wait by
// preread_timeout. It decides as early as the bytes allow: a first byte other than "P" or 0x0D is refused at once, a v2
// length over the cap is refused as soon as the 16 fixed bytes are in, a v1 token as soon as it cannot
// become valid, so a client that does not speak the protocol never waits for the preread timeout.
//
// Addresses come out as weir reports client addresses: IPv4 dotted, IPv6 in RFC 5952 form, IPv4-mapped
// IPv6 (::ffff:a.b.c.d) as plain IPv4 (see unmapIpv4 in src/lib/ip.ts); `family` still says what the header
// announced. Choices where the spec leaves room, in one place:
// - v1 "UNKNOWN" is accepted with whatever follows it up to the CRLF and reports no addresses (family unspec).
// - v2 LOCAL keeps no addresses; its address block is skipped by family, and TLVs after it are parsed. A
//   LOCAL whose length is shorter than its family's block (or whose family/protocol byte is not one of the
//   seven listed, with valid nibbles) is accepted with the whole block skipped, as the spec says LOCAL must be;
//   the TLV cap then bounds its whole length.
// - v2 PROXY with family/protocol 0x00 (UNSPEC) is accepted with no addresses; every byte after the fixed 16
//   must then be TLVs. Any other byte outside the seven listed combinations is refused.
// - TLVs: a malformed TLV, a duplicate of a registered type, a CRC32C that does not match, an AUTHORITY over
//   255 bytes or not UTF-8, a UNIQUE_ID over 128 bytes, or an ASCII field that is not ASCII refuses the
//   header. Unregistered, experimental (0xF0-0xF7) and future (0xF8-0xFF) types and NOOP are skipped.

import {
  PP1_MIN_LENGTH,
  PP2_ADDR_INET,
  PP2_ADDR_INET6,
  PP2_ADDR_UNIX,
  PP2_FIXED_LENGTH,
  PP2_SIGNATURE,
  PP2_TLV_CAP,
  PP2_UNIX_PATH,
} from '../../lib/proxy-protocol-wire';
import { formatIpv4, formatIpv6 } from '../../lib/ip-bytes';
import { parseProxyV1 } from './proxy-protocol-v1';
import { parseProxyTlvs } from './proxy-protocol-tlvs';
import {
  hex2,
  invalid,
  type ProxyDatagramResult,
  type ProxyEndpoint,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyParseResult,
  type ProxyTransport,
} from './proxy-protocol-types';

export type {
  ProxyCustomTlv,
  ProxyDatagramResult,
  ProxyEndpoint,
  ProxyFamily,
  ProxyHeader,
  ProxyParseResult,
  ProxySsl,
  ProxyTlvs,
  ProxyTransport,
} from './proxy-protocol-types';

/**
 * Parse the PROXY header at the start of `bytes` (everything received so far on a TCP connection).
 * Call again with the grown buffer on need-more; consume header.headerLength bytes on done; close the
 * connection with the reason on invalid. `tlvCap` bounds v2 TLV bytes (default PP2_TLV_CAP).
 */
export function parseProxyHeader(bytes: Uint8Array, tlvCap: number = PP2_TLV_CAP): ProxyParseResult {
  if (bytes.length === 0) return { kind: 'need-more', atLeast: PP1_MIN_LENGTH };
  const first = bytes[0];
  if (first === 0x50) return parseProxyV1(bytes);
  if (first === 0x0d) return parseProxyV2(bytes, tlvCap);
  return invalid(`not a PROXY protocol header: first byte ${hex2(first!)} is neither "P" (v1) nor 0x0D (v2)`);
}

/**
 * Parse the v2 header that starts one datagram (HAProxy, Envoy and cloud UDP load balancers send one in
 * every datagram; v1 has no UDP form). Runs once per datagram received on a `proxy_protocol` UDP listener.
 * A header that does not fit in the datagram is invalid, never need-more. The family byte is reported, not
 * enforced: a sender that announces TCP4 on a datagram still gives its source, and the caller may refuse it.
 */
export function parseProxyDatagram(datagram: Uint8Array, tlvCap: number = PP2_TLV_CAP): ProxyDatagramResult {
  if (datagram.length === 0) return invalid('udp: empty datagram, expected a PROXY v2 header');
  if (datagram[0] !== 0x0d) {
    return invalid(`udp: datagram does not start with a PROXY v2 header (first byte ${hex2(datagram[0]!)}; v1 is TCP only)`);
  }
  const result = parseProxyV2(datagram, tlvCap);
  if (result.kind === 'done') return { kind: 'done', header: result.header, payloadOffset: result.header.headerLength };
  if (result.kind === 'invalid') return result;
  return invalid(`udp: datagram of ${datagram.length} bytes ends inside its PROXY v2 header (${result.atLeast} bytes needed)`);
}

const FAMILIES: readonly ProxyFamily[] = ['unspec', 'ipv4', 'ipv6', 'unix'];
const TRANSPORTS: readonly ProxyTransport[] = ['unspec', 'stream', 'dgram'];
const NEED_FIXED = { kind: 'need-more', atLeast: PP2_FIXED_LENGTH } as const;

/** Address block size of a listed family/protocol byte; -1 for any other byte. */
function addressBytes(famProto: number): number {
  switch (famProto) {
    case 0x00: return 0;
    case 0x11: case 0x12: return PP2_ADDR_INET;
    case 0x21: case 0x22: return PP2_ADDR_INET6;
    case 0x31: case 0x32: return PP2_ADDR_UNIX;
    default: return -1;
  }
}

const FAM_PROTO_NAMES: Record<number, string> = {
  0x00: 'UNSPEC', 0x11: 'TCP4', 0x12: 'UDP4', 0x21: 'TCP6', 0x22: 'UDP6', 0x31: 'UNIX stream', 0x32: 'UNIX datagram',
};

/** The v2 state machine over the fixed 16 bytes, then the address block and the TLVs once all are in. */
function parseProxyV2(b: Uint8Array, tlvCap: number): ProxyParseResult {
  const n = b.length;
  for (let i = 1; i < 12; i++) {
    if (i >= n) return NEED_FIXED;
    if (b[i] !== PP2_SIGNATURE[i]) {
      return invalid(`v2: signature byte ${i} is ${hex2(b[i]!)}, expected ${hex2(PP2_SIGNATURE[i]!)}`);
    }
  }
  if (n < 13) return NEED_FIXED;
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) return invalid(`v2: version ${verCmd >> 4} (byte 12 is ${hex2(verCmd)}), only 2 is defined`);
  const local = (verCmd & 0x0f) === 0;
  if ((verCmd & 0x0f) > 1) {
    return invalid(`v2: command ${verCmd & 0x0f} (byte 12 is ${hex2(verCmd)}) is neither LOCAL (0) nor PROXY (1)`);
  }
  if (n < 14) return NEED_FIXED;
  const famProto = b[13]!;
  if (famProto >> 4 > 3) {
    return invalid(`v2: address family ${famProto >> 4} (byte 13 is ${hex2(famProto)}) is not UNSPEC, INET, INET6 or UNIX`);
  }
  if ((famProto & 0x0f) > 2) {
    return invalid(`v2: transport ${famProto & 0x0f} (byte 13 is ${hex2(famProto)}) is not UNSPEC, STREAM or DGRAM`);
  }
  const addrSize = addressBytes(famProto);
  if (addrSize < 0 && !local) {
    return invalid(`v2: family/protocol ${hex2(famProto)} is none of 0x00 0x11 0x12 0x21 0x22 0x31 0x32`);
  }
  if (n < PP2_FIXED_LENGTH) return NEED_FIXED;
  const length = (b[14]! << 8) | b[15]!;
  if (!local && length < addrSize) {
    return invalid(`v2: length ${length} is shorter than the ${addrSize} address bytes of ${FAM_PROTO_NAMES[famProto]}`);
  }
  const addrBound = Math.max(addrSize, 0);
  if (length > addrBound + tlvCap) {
    return invalid(`v2: length ${length} exceeds ${addrBound} address bytes + TLV cap ${tlvCap}`);
  }
  // a LOCAL header whose block does not hold its family's addresses is skipped whole
  const skipped = addrSize >= 0 && length >= addrSize ? addrSize : length;
  const total = PP2_FIXED_LENGTH + length;
  if (n < total) return { kind: 'need-more', atLeast: total };

  const tlvs = parseProxyTlvs(b, PP2_FIXED_LENGTH + skipped, total);
  if (typeof tlvs === 'string') return invalid(tlvs);
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  if (!local) {
    const at = PP2_FIXED_LENGTH;
    if (addrSize === PP2_ADDR_INET) {
      source = { addr: formatIpv4(b, at), port: readPort(b, at + 8) };
      destination = { addr: formatIpv4(b, at + 4), port: readPort(b, at + 10) };
    } else if (addrSize === PP2_ADDR_INET6) {
      source = { addr: formatIpv6(b, at), port: readPort(b, at + 32) };
      destination = { addr: formatIpv6(b, at + 16), port: readPort(b, at + 34) };
    } else if (addrSize === PP2_ADDR_UNIX) {
      source = { addr: readUnixPath(b, at), port: 0 };
      destination = { addr: readUnixPath(b, at + PP2_UNIX_PATH), port: 0 };
    }
  }
  const header: ProxyHeader = {
    version: 2,
    command: local ? 'local' : 'proxy',
    family: FAMILIES[famProto >> 4]!,
    transport: TRANSPORTS[famProto & 0x0f]!,
    source,
    destination,
    tlvs,
    headerLength: total,
  };
  return { kind: 'done', header };
}

function readPort(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

const PATH_DECODER = new TextDecoder('utf-8');

/** sun_path: up to the first NUL; a leading NUL marks a Linux abstract name, shown as "@name". */
function readUnixPath(b: Uint8Array, at: number): string {
  const end = at + PP2_UNIX_PATH;
  if (b[at] === 0) {
    let last = end;
    while (last > at + 1 && b[last - 1] === 0) last--;
    return last === at + 1 ? '' : '@' + PATH_DECODER.decode(b.subarray(at + 1, last));
  }
  let stop = at;
  while (stop < end && b[stop] !== 0) stop++;
  return PATH_DECODER.decode(b.subarray(at, stop));
}
