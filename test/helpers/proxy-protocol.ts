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

/** mulberry32: a small seeded PRNG, so a failing case reproduces. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
