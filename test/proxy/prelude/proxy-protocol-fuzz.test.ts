// Byte-level fuzz of the PROXY protocol parser: 100,000 seeded random and mutated headers. Nothing throws,
// every refusal has a reason, a header never claims more bytes than it was given, and answers do not change
// when more bytes arrive (a done or invalid answer is final; only need-more may change).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeCrc32c } from '../../../src/lib/crc32c';
import { parseProxyDatagram, parseProxyHeader, type ProxyParseResult } from '../../../src/proxy/prelude/proxy-protocol';
import { SIG, ascii, cat, seededRandom, tlv, u16, u32 } from '../../helpers/proxy-protocol';

const CASES = 100_000;
const MAX_V2 = 16 + 216 + 2048;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;
const bytesOf = (random: Random, n: number): number[] => Array.from({ length: n }, () => int(random, 256));

const INTERESTING = [0x00, 0xff, 0x0d, 0x0a, 0x20, 0x30, 0x31, 0x39, 0x3a, 0x2e, 0x50, 0x21, 0x11, 0x7f, 0x80];

function randomV1(random: Random): Uint8Array {
  const octet = () => String(int(random, 256));
  const v4 = () => `${octet()}.${octet()}.${octet()}.${octet()}`;
  const v6 = () => Array.from({ length: 8 }, () => (random() < 0.3 ? '0' : int(random, 65536).toString(16))).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  const port = () => String(int(random, 65536));
  const r = random();
  if (r < 0.45) return ascii(`PROXY TCP4 ${v4()} ${v4()} ${port()} ${port()}\r\n`);
  if (r < 0.9) return ascii(`PROXY TCP6 ${v6()} ${v6()} ${port()} ${port()}\r\n`);
  return ascii(r < 0.95 ? 'PROXY UNKNOWN\r\n' : `PROXY UNKNOWN ${v6()} ${v6()} ${port()} ${port()}\r\n`);
}

function randomText(random: Random, max: number): number[] {
  return Array.from({ length: int(random, max + 1) }, () => (random() < 0.95 ? 0x20 + int(random, 0x5f) : int(random, 256)));
}

function randomTlvs(random: Random): { body: Uint8Array; crcAt: number } {
  const parts: Uint8Array[] = [];
  let crcAt = -1;
  let length = 0;
  const count = int(random, 7);
  for (let i = 0; i < count; i++) {
    let part: Uint8Array;
    switch (int(random, 10)) {
      case 0: part = tlv(0x01, randomText(random, 12)); break;
      case 1: part = tlv(0x02, randomText(random, random() < 0.9 ? 64 : 300)); break;
      case 2:
        if (crcAt >= 0) continue;
        crcAt = length + 3;
        part = tlv(0x03, [0, 0, 0, 0]);
        break;
      case 3: part = tlv(0x04, bytesOf(random, int(random, 8))); break;
      case 4: part = tlv(0x05, bytesOf(random, int(random, random() < 0.9 ? 128 : 200))); break;
      case 5: {
        const subs = Array.from({ length: int(random, 5) }, () => tlv(0x21 + int(random, 6), randomText(random, 30)));
        part = tlv(0x20, cat([int(random, 8)], u32(random() < 0.5 ? 0 : int(random, 100)), ...subs));
        break;
      }
      case 6: part = tlv(0x30, randomText(random, 16)); break;
      case 7: part = tlv(0xe0 + int(random, 16), bytesOf(random, int(random, 40))); break;
      default: part = tlv(int(random, 256), bytesOf(random, int(random, 20)));
    }
    parts.push(part);
    length += part.length;
  }
  return { body: cat(...parts), crcAt };
}

const FAM_PROTOS = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32];
const ADDR_SIZES: Record<number, number> = { 0x00: 0, 0x11: 12, 0x12: 12, 0x21: 36, 0x22: 36, 0x31: 216, 0x32: 216 };

function randomV2(random: Random): Uint8Array {
  const famProto = random() < 0.95 ? pick(random, FAM_PROTOS) : int(random, 256);
  const verCmd = random() < 0.8 ? 0x21 : random() < 0.8 ? 0x20 : int(random, 256);
  const addr = bytesOf(random, ADDR_SIZES[famProto] ?? int(random, 40));
  const { body, crcAt } = randomTlvs(random);
  const rest = cat(addr, body);
  const header = cat(SIG, [verCmd, famProto, ...u16(rest.length)], rest);
  if (crcAt >= 0) header.set(u32(computeCrc32c(header)), 16 + addr.length + crcAt);
  return header;
}

function mutate(random: Random, input: Uint8Array): Uint8Array {
  let bytes = Array.from(input);
  const count = 1 + int(random, 3);
  for (let m = 0; m < count; m++) {
    const at = int(random, bytes.length + 1);
    switch (int(random, 8)) {
      case 0: if (at < bytes.length) bytes[at]! ^= 1 << int(random, 8); break;
      case 1: if (at < bytes.length) bytes[at] = random() < 0.5 ? pick(random, INTERESTING) : int(random, 256); break;
      case 2: bytes = bytes.slice(0, at); break;
      case 3: bytes.splice(at, 0, pick(random, INTERESTING)); break;
      case 4: bytes.splice(at, 1); break;
      case 5: bytes.push(...bytesOf(random, int(random, 16))); break;
      case 6: if (bytes.length >= 16) bytes.splice(14, 2, ...u16(random() < 0.5 ? int(random, 300) : int(random, 65536))); break;
      default: if (bytes.length > 30) { const i = 28 + int(random, bytes.length - 30); bytes.splice(i + 1, 2, ...u16(int(random, 512))); }
    }
  }
  return Uint8Array.from(bytes);
}

function randomInput(random: Random): Uint8Array {
  const r = random();
  if (r < 0.15) return Uint8Array.from([pick(random, [0x50, 0x0d, int(random, 256)]), ...bytesOf(random, int(random, 64))]);
  if (r < 0.3) return random() < 0.3 ? randomV1(random) : mutate(random, randomV1(random));
  if (r < 0.4) return cat(SIG.slice(0, 12), bytesOf(random, int(random, 80)));
  const v2 = randomV2(random);
  if (r < 0.55) return random() < 0.5 ? v2 : cat(v2, bytesOf(random, int(random, 20)));
  return mutate(random, v2);
}

function checkAnswer(input: Uint8Array, r: ProxyParseResult): void {
  if (r.kind === 'invalid') {
    assert.equal(typeof r.reason, 'string');
    assert.ok(/^(v1: |v2: |not a PROXY protocol header: )\S/.test(r.reason), r.reason);
  } else if (r.kind === 'need-more') {
    assert.ok(Number.isInteger(r.atLeast) && r.atLeast > input.length && r.atLeast <= MAX_V2, `atLeast ${r.atLeast}`);
  } else {
    const h = r.header;
    assert.ok(h.headerLength >= 15 && h.headerLength <= input.length, `headerLength ${h.headerLength} of ${input.length}`);
    assert.ok(h.version === 1 ? h.headerLength <= 107 : h.headerLength <= MAX_V2);
    assert.equal(h.source === null, h.destination === null);
    for (const end of [h.source, h.destination]) {
      if (end) assert.ok(typeof end.addr === 'string' && Number.isInteger(end.port) && end.port >= 0 && end.port <= 65535);
    }
  }
}

describe('parseProxyHeader fuzz', () => {
  it(`${CASES.toLocaleString('en')} random and mutated headers: no throw, a reason for every refusal, bounded, final answers`, () => {
    const random = seededRandom(14);
    const counts = { done: 0, invalid: 0, 'need-more': 0 };
    for (let i = 0; i < CASES; i++) {
      const input = randomInput(random);
      const r = parseProxyHeader(input);
      counts[r.kind]++;
      checkAnswer(input, r);
      const d = parseProxyDatagram(input);
      assert.ok(d.kind === 'done' ? d.payloadOffset <= input.length : d.reason.length > 0);
      if (r.kind === 'done' && r.header.version === 2) assert.deepEqual(d, { kind: 'done', header: r.header, payloadOffset: r.header.headerLength });
      if (i % 16 === 0 && r.kind !== 'need-more') {
        // more bytes change nothing once the answer is in; the header alone gives the same answer
        assert.deepEqual(parseProxyHeader(cat(input, bytesOf(random, 1 + int(random, 40)))), r, `case ${i}`);
        if (r.kind === 'done') assert.deepEqual(parseProxyHeader(input.subarray(0, r.header.headerLength)), r);
      }
      if (i % 64 === 0 && r.kind === 'done') {
        for (let n = 0; n < r.header.headerLength; n++) assert.equal(parseProxyHeader(input.subarray(0, n)).kind, 'need-more', `case ${i} prefix ${n}`);
      }
    }
    // the generator reaches every answer in earnest
    assert.ok(counts.done > CASES / 10 && counts.invalid > CASES / 4 && counts['need-more'] > CASES / 50, JSON.stringify(counts));
  });
});
