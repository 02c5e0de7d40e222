// Test helpers for the PROXY protocol: byte builders written from the spec (independent of the writer), a
// seeded PRNG, and the "one byte per segment" receiver that the split tests and the fuzz share.

import assert from 'node:assert/strict';
import { parseProxyHeader, type ProxyHeader, type ProxyParseResult } from '../../src/proxy/prelude/proxy-protocol';

export const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

export type Bytes = number[] | Uint8Array | string;

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export function cat(...parts: Bytes[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'string' ? ascii(p) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

export const u16 = (n: number): number[] => [n >> 8, n & 0xff];
export const u32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** A v2 header: signature, version/command byte, family/protocol byte, length (default: the body's), body. */
export function v2(verCmd: number, famProto: number, body: Bytes, length?: number): Uint8Array {
  const b = cat(body);
  return cat(SIG, [verCmd, famProto, ...u16(length ?? b.length)], b);
}

/** One TLV: type, 16-bit length (default: the value's), value. */
export function tlv(type: number, value: Bytes, length?: number): Uint8Array {
  const v = cat(value);
  return cat([type, ...u16(length ?? v.length)], v);
}

/** The spec's example connection, 192.168.0.1:56324 -> 192.168.0.11:443, as a TCP4/UDP4 address block. */
export const INET_BLOCK = [192, 168, 0, 1, 192, 168, 0, 11, ...u16(56324), ...u16(443)];

export function parsedHeader(bytes: Uint8Array): ProxyHeader {
  const r = parseProxyHeader(bytes);
  assert.equal(r.kind, 'done', r.kind === 'invalid' ? r.reason : 'need-more');
  return (r as { header: ProxyHeader }).header;
}

export function invalidReason(bytes: Uint8Array, tlvCap?: number): string {
  const r = parseProxyHeader(bytes, tlvCap);
  assert.equal(r.kind, 'invalid', JSON.stringify(r));
  return (r as { reason: string }).reason;
}

/**
 * Deliver `bytes` one byte per segment to a receiver that re-parses everything buffered so far, as the
 * prelude does; stop at the first answer that is not need-more. Returns that answer and how many bytes had
 * arrived. Asserts every need-more promises more than what is buffered.
 */
export function receiveBytewise(bytes: Uint8Array): { result: ProxyParseResult; received: number } {
  let buffered = new Uint8Array(0);
  for (let i = 0; i < bytes.length; i++) {
    const grown = new Uint8Array(buffered.length + 1);
    grown.set(buffered);
    grown[buffered.length] = bytes[i]!;
    buffered = grown;
    const result = parseProxyHeader(buffered);
    if (result.kind !== 'need-more') return { result, received: buffered.length };
    assert.ok(result.atLeast > buffered.length, `need-more at ${buffered.length} asks for ${result.atLeast}`);
  }
  return { result: parseProxyHeader(buffered), received: buffered.length };
}

/** mulberry32 (test/helpers/random.ts), under the name these tests use. */
export { prng as seededRandom } from './random';

/**
 * What a header says, decoded from the spec by this helper alone (no weir code): the tests of weir's sender
 * read its bytes with it, the way a backend would.
 */
export interface DecodedHeader {
  version: 1 | 2;
  /** v1: "TCP4" | "TCP6" | "UNKNOWN"; v2: "LOCAL" | "PROXY". */
  command: string;
  /** v2: the family/protocol byte (0x11 TCP4, 0x21 TCP6, 0x12 UDP4, ...); v1: 0. */
  famProto: number;
  src: string | null;
  dst: string | null;
  srcPort: number;
  dstPort: number;
  /** v2 TLVs by type, in order (the value bytes). */
  tlvs: Array<[number, Buffer]>;
  /** Bytes of the header itself. */
  length: number;
}

function v6Text(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  // the shortest form is not needed for comparisons against net's compressed text: compress the longest zero run
  const text = groups.join(':');
  const m = text.match(/(?:^|:)0(?::0)+(?::|$)/g);
  if (!m) return text;
  const longest = m.reduce((a, c) => (c.length > a.length ? c : a));
  return text.replace(longest, '::');
}

/** Decode the header at the start of `b`, or null when `b` does not hold a whole one yet. Throws on garbage. */
export function decodeHeader(b: Buffer): DecodedHeader | null {
  if (b.length >= 6 && b.subarray(0, 6).toString('latin1') === 'PROXY ') {
    const end = b.indexOf('\r\n');
    if (end < 0) return null;
    const parts = b.subarray(6, end).toString('latin1').split(' ');
    const common = { version: 1 as const, famProto: 0, tlvs: [], length: end + 2 };
    if (parts[0] === 'UNKNOWN') return { ...common, command: 'UNKNOWN', src: null, dst: null, srcPort: 0, dstPort: 0 };
    return { ...common, command: parts[0]!, src: parts[1]!, dst: parts[2]!, srcPort: Number(parts[3]), dstPort: Number(parts[4]) };
  }
  if (b.length < 16) return null;
  if (!b.subarray(0, 12).equals(Buffer.from(SIG))) throw new Error(`not a PROXY header: ${b.subarray(0, 16).toString('hex')}`);
  const length = 16 + b.readUInt16BE(14);
  if (b.length < length) return null;
  const famProto = b[13]!;
  const command = (b[12]! & 0x0f) === 1 ? 'PROXY' : 'LOCAL';
  let at = 16;
  let src: string | null = null;
  let dst: string | null = null;
  let srcPort = 0;
  let dstPort = 0;
  if (command === 'PROXY' && famProto >> 4 === 1) {
    src = [...b.subarray(16, 20)].join('.');
    dst = [...b.subarray(20, 24)].join('.');
    srcPort = b.readUInt16BE(24);
    dstPort = b.readUInt16BE(26);
    at = 28;
  } else if (command === 'PROXY' && famProto >> 4 === 2) {
    src = v6Text(b, 16);
    dst = v6Text(b, 32);
    srcPort = b.readUInt16BE(48);
    dstPort = b.readUInt16BE(50);
    at = 52;
  }
  const tlvs: Array<[number, Buffer]> = [];
  while (at + 3 <= length) {
    const n = b.readUInt16BE(at + 1);
    tlvs.push([b[at]!, Buffer.from(b.subarray(at + 3, at + 3 + n))]);
    at += 3 + n;
  }
  return { version: 2, command, famProto, src, dst, srcPort, dstPort, tlvs, length };
}

/** The text of a TLV (undefined when the header has none of that type). */
export function tlvText(h: DecodedHeader, type: number): string | undefined {
  return h.tlvs.find(([t]) => t === type)?.[1].toString('utf8');
}

export interface ProxyReader {
  port: number;
  /** Per connection, in accept order: the header it started with (null: none came) and the bytes after it. */
  conns: Array<{ header: DecodedHeader | null; rest: Buffer; raw: Buffer }>;
  close(): Promise<void>;
}

/**
 * A backend that expects a PROXY header (v1 or v2) first, like HAProxy's accept-proxy: it decodes it with
 * decodeHeader, then answers each later chunk with "<tag>:<chunk>". `tls`: terminate TLS after the header
 * (what a TLS backend behind a PROXY-sending proxy does). A connection without a header is recorded and closed.
 */
export async function startProxyReader(tag = 'up', tls: { cert: string; key: string } | null = null): Promise<ProxyReader> {
  const { createServer } = await import('node:net');
  const { TLSSocket } = await import('node:tls');
  const conns: ProxyReader['conns'] = [];
  const sockets = new Set<import('node:net').Socket>();
  const srv = createServer({ allowHalfOpen: true }, (raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    const entry = { header: null as DecodedHeader | null, rest: Buffer.alloc(0), raw: Buffer.alloc(0) };
    conns.push(entry);
    const answer = (s: import('node:net').Socket): void => {
      s.on('data', (d: Buffer) => {
        entry.rest = Buffer.concat([entry.rest, d]);
        s.write(`${tag}:${d}`);
      });
      s.on('end', () => s.end());
    };
    const onData = (d: Buffer): void => {
      entry.raw = Buffer.concat([entry.raw, d]);
      let header: DecodedHeader | null;
      try {
        header = decodeHeader(entry.raw);
      } catch {
        raw.destroy();
        return;
      }
      if (header === null) return;
      entry.header = header;
      raw.off('data', onData);
      raw.pause();
      const after = entry.raw.subarray(header.length);
      if (after.length > 0) raw.unshift(after);
      if (tls === null) {
        answer(raw);
        raw.resume();
        return;
      }
      const secure = new TLSSocket(raw, { isServer: true, cert: tls.cert, key: tls.key });
      secure.on('error', () => {});
      answer(secure as unknown as import('node:net').Socket);
    };
    raw.on('data', onData);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as import('node:net').AddressInfo).port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}
