// PROXY protocol v1 (the text line): an incremental check of "PROXY TCP4|TCP6|UNKNOWN ...\r\n" over a prefix.
// Called by parseProxyHeader when the first byte is "P", on every segment until the line is complete. Each
// token is checked as far as it has arrived, so a line that cannot become valid is refused at the first byte
// that proves it, and every proper prefix of a valid line is need-more. At most 107 bytes are ever read.

import { PP1_MAX_LENGTH, PP1_MIN_LENGTH } from '../../lib/proxy-protocol-wire';
import { formatIpv4, formatIpv6, parseIpv4Into, parseIpv6Into } from '../../lib/ip-bytes';
import { EMPTY_TLVS, hex2, invalid, type ProxyEndpoint, type ProxyParseResult } from './proxy-protocol-types';

const PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
/** The last index where the CR of a 107-byte line can be. */
const LAST_CR = PP1_MAX_LENGTH - 2;
const PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'] as const;
const FIELDS = ['source address', 'destination address', 'source port', 'destination port'] as const;
const SCRATCH = new Uint8Array(16);

type Protocol = (typeof PROTOCOLS)[number];

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isProtocolChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || isDigit(c);
}
function isIpv4Char(c: number): boolean {
  return isDigit(c) || c === 0x2e;
}
function isIpv6Char(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x3a || c === 0x2e;
}

function text(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function needMore(n: number): ProxyParseResult {
  return { kind: 'need-more', atLeast: Math.max(n + 1, PP1_MIN_LENGTH) };
}

/** Scan a token from `p` while `accept` holds, never past the input nor past the last possible CR. */
function tokenEnd(b: Uint8Array, p: number, accept: (c: number) => boolean): number {
  const stop = Math.min(b.length, LAST_CR + 1);
  while (p < stop && accept(b[p]!)) p++;
  return p;
}

/**
 * What ends the token at `e`: 'more' (input ends), 'space', 'eol' (CRLF, or a CR that is the last byte so
 * far), or a reason when the byte there cannot follow the token.
 */
function tokenStop(b: Uint8Array, e: number, what: string): 'more' | 'space' | 'eol' | { reason: string } {
  if (e > LAST_CR) return { reason: `v1: no CRLF within the first ${PP1_MAX_LENGTH} bytes` };
  if (e >= b.length) return 'more';
  const c = b[e]!;
  if (c === SP) return 'space';
  if (c === CR) {
    if (e + 1 < b.length && b[e + 1] !== LF) return { reason: `v1: CR at byte ${e} is not followed by LF` };
    return 'eol';
  }
  if (c === LF) return { reason: `v1: LF without CR at byte ${e}` };
  return { reason: `v1: unexpected byte ${hex2(c)} at byte ${e} in the ${what}` };
}

/** Parse a v1 line; bytes[0] is "P". */
export function parseProxyV1(b: Uint8Array): ProxyParseResult {
  const n = b.length;
  for (let i = 0; i < PREFIX.length; i++) {
    if (i >= n) return needMore(n);
    if (b[i] !== PREFIX[i]) return invalid(`v1: byte ${i} is ${hex2(b[i]!)}, expected "PROXY "`);
  }
  const protoStart = PREFIX.length;
  const protoEnd = tokenEnd(b, protoStart, isProtocolChar);
  // the first byte that no protocol name continues with decides
  for (let i = protoStart + 1; i <= protoEnd; i++) {
    const seen = text(b, protoStart, i);
    if (!PROTOCOLS.some((p) => p.startsWith(seen))) return invalid(badProtocol(seen));
  }
  const stop = tokenStop(b, protoEnd, 'protocol');
  if (typeof stop === 'object') return invalid(stop.reason);
  if (stop === 'more') return needMore(n);
  const protoText = text(b, protoStart, protoEnd);
  const protocol = PROTOCOLS.find((p) => p === protoText);
  if (protocol === undefined) return invalid(badProtocol(protoText));
  if (protocol === 'UNKNOWN') return finishUnknown(b, protoEnd, stop);
  if (stop === 'eol') return invalid(`v1: line ends after ${protocol}, expected addresses and ports`);
  return parseAddresses(b, protocol, protoEnd + 1);
}

function badProtocol(seen: string): string {
  return `v1: protocol "${seen}" is none of TCP4, TCP6, UNKNOWN`;
}

/** "UNKNOWN": the receiver ignores everything up to the CRLF (spec 2.1), within the 107 bytes. */
function finishUnknown(b: Uint8Array, at: number, stop: 'space' | 'eol'): ProxyParseResult {
  let p = at;
  if (stop === 'space') {
    const last = Math.min(b.length, LAST_CR + 1);
    while (p < last && b[p] !== CR && b[p] !== LF) p++;
    const end = tokenStop(b, p, 'UNKNOWN line');
    if (typeof end === 'object') return invalid(end.reason);
    if (end === 'more') return needMore(b.length);
  }
  if (p + 1 >= b.length) return needMore(b.length);
  return done('unspec', null, null, p + 2);
}

/** The four fields after TCP4/TCP6, each separated by exactly one space, then CRLF. */
function parseAddresses(b: Uint8Array, protocol: Protocol, start: number): ProxyParseResult {
  const v4 = protocol === 'TCP4';
  const values: (string | number)[] = [];
  let p = start;
  for (let k = 0; k < 4; k++) {
    const port = k >= 2;
    const e = tokenEnd(b, p, port ? isDigit : v4 ? isIpv4Char : isIpv6Char);
    const partial = port ? checkPortPrefix(b, p, e, FIELDS[k]!) : checkAddressPrefix(b, p, e, v4, FIELDS[k]!);
    if (partial) return invalid(partial);
    const stop = tokenStop(b, e, FIELDS[k]!);
    if (typeof stop === 'object') return invalid(stop.reason);
    if (stop === 'more') return needMore(b.length);
    if (e === p) return invalid(`v1: empty ${FIELDS[k]} at byte ${e}`);
    if (stop === 'space' && k === 3) return invalid(`v1: unexpected space after the destination port at byte ${e}`);
    if (stop === 'eol' && k < 3) return invalid(`v1: line ends after the ${FIELDS[k]}, expected 4 fields after ${protocol}`);
    if (port) {
      values.push(readDecimal(b, p, e));
    } else {
      const addr = parseAddress(b, p, e, v4);
      if (addr === null) {
        return invalid(`v1: ${protocol} ${FIELDS[k]} "${text(b, p, e)}" is not ${v4 ? 'a dotted-quad IPv4' : 'an IPv6'} address`);
      }
      values.push(addr);
    }
    p = e + 1;
  }
  if (p >= b.length) return needMore(b.length); // the CR is in, the LF is not
  const source = { addr: values[0] as string, port: values[2] as number };
  const destination = { addr: values[1] as string, port: values[3] as number };
  return done(v4 ? 'ipv4' : 'ipv6', source, destination, p + 1);
}

function done(
  family: 'ipv4' | 'ipv6' | 'unspec',
  source: ProxyEndpoint | null,
  destination: ProxyEndpoint | null,
  headerLength: number,
): ProxyParseResult {
  return {
    kind: 'done',
    header: {
      version: 1,
      command: 'proxy',
      family,
      transport: family === 'unspec' ? 'unspec' : 'stream',
      source,
      destination,
      tlvs: EMPTY_TLVS,
      headerLength,
    },
  };
}

function readDecimal(b: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (b[i]! - 0x30);
  return value;
}

// The prefix checks below name only the bytes up to the one that decided, so a line refused early and the
// same line refused whole give the same reason.

/** A port so far: no leading zero, at most 65535 (both decidable before the token ends). */
function checkPortPrefix(b: Uint8Array, start: number, end: number, what: string): string | null {
  let value = 0;
  for (let i = start; i < end; i++) {
    if (i > start && b[start] === 0x30) return `v1: ${what} "${text(b, start, i + 1)}" has a leading zero`;
    value = value * 10 + (b[i]! - 0x30);
    if (value > 65535) return `v1: ${what} ${text(b, start, i + 1)} out of range`;
  }
  return null;
}

/** An address so far: IPv4 octets without leading zeros, at most 255, at most 4; IPv6 at most 45 chars. */
function checkAddressPrefix(b: Uint8Array, start: number, end: number, v4: boolean, what: string): string | null {
  if (!v4) return end - start > 45 ? `v1: ${what} is longer than 45 characters` : null;
  let dots = 0;
  let digits = 0;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return `v1: ${what} "${text(b, start, i + 1)}" is not a dotted-quad IPv4 address`;
      digits = 0;
      value = 0;
      continue;
    }
    if (digits === 1 && value === 0) return `v1: ${what} "${text(b, start, i + 1)}" has a leading zero`;
    value = value * 10 + (c - 0x30);
    if (++digits > 3 || value > 255) return `v1: ${what} "${text(b, start, i + 1)}" has an octet over 255`;
  }
  return null;
}

/** The complete address token, in weir's form, or null. */
function parseAddress(b: Uint8Array, start: number, end: number, v4: boolean): string | null {
  const literal = text(b, start, end);
  if (v4) return parseIpv4Into(literal, 0, literal.length, SCRATCH, 0) ? formatIpv4(SCRATCH, 0) : null;
  return parseIpv6Into(literal, 0, literal.length, SCRATCH, 0) ? formatIpv6(SCRATCH, 0) : null;
}
