// Byte-level fuzz of the MQTT CONNECT parser: 100,000 seeded random, mutated and truncated packets. Nothing
// throws, every refusal has a reason, a CONNECT never claims bytes it was not given, and answers do not
// change when more bytes arrive (only need-more may change).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMqttConnect, type MqttConnectParse } from '../../src/plugins/mqtt-connect';
import { prng } from '../helpers/random';
import { connectPacket, lp, utf8 } from './mqtt-packets';

const CASES = 100_000;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;
const bytesOf = (random: Random, n: number): number[] => Array.from({ length: n }, () => int(random, 256));

const INTERESTING = [0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27, 0x7f, 0x80, 0xc0, 0xed, 0xff];

function randomText(random: Random, max: number): string {
  const n = int(random, max + 1);
  let out = '';
  for (let i = 0; i < n; i++) out += random() < 0.9 ? String.fromCharCode(0x21 + int(random, 0x5e)) : pick(random, ['é', '€', '😀', ' ']);
  return out;
}

function randomProps(random: Random): number[] {
  const out: number[] = [];
  const count = int(random, 6);
  for (let i = 0; i < count; i++) {
    switch (int(random, 10)) {
      case 0: out.push(0x11, ...bytesOf(random, 4)); break;
      case 1: out.push(0x21, 0, 1 + int(random, 200)); break;
      case 2: out.push(0x27, 0, 1, 0, 0); break;
      case 3: out.push(0x22, ...bytesOf(random, 2)); break;
      case 4: out.push(pick(random, [0x17, 0x19]), int(random, 2)); break;
      case 5: case 6: out.push(0x26, ...lp(randomText(random, 12)), ...lp(randomText(random, 12))); break;
      case 7: out.push(0x15, ...lp(randomText(random, 10)), 0x16, ...lp(bytesOf(random, int(random, 20)))); break;
      default: out.push(int(random, 256), ...bytesOf(random, int(random, 4)));
    }
  }
  return out;
}

/** A plausible CONNECT: mostly valid, with random field values. */
function randomPacket(random: Random): Uint8Array {
  const level = pick(random, [3, 4, 4, 5, 5, 5, 6, 0]);
  return connectPacket({
    name: level === 3 ? 'MQIsdp' : random() < 0.95 ? 'MQTT' : randomText(random, 8),
    level,
    flags: random() < 0.7 ? pick(random, [0x00, 0x02, 0x06, 0xc2, 0xce, 0x36]) : int(random, 256),
    keepAlive: int(random, 65536),
    props: level === 5 ? randomProps(random) : undefined,
    clientId: random() < 0.1 ? '' : random() < 0.02 ? 'x'.repeat(200 + int(random, 400)) : randomText(random, 30),
    rest: random() < 0.3 ? bytesOf(random, int(random, 30)) : [],
  });
}

/** Flip, insert, delete or overwrite a few bytes; sometimes cut the packet. */
function mutate(random: Random, input: Uint8Array): Uint8Array {
  const b = [...input];
  const edits = 1 + int(random, 4);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = int(random, b.length);
    switch (int(random, 5)) {
      case 0: b[at] = b[at]! ^ (1 << int(random, 8)); break;
      case 1: b[at] = pick(random, INTERESTING); break;
      case 2: b.splice(at, 0, int(random, 256)); break;
      case 3: b.splice(at, 1); break;
      default: b.length = at;
    }
  }
  return Uint8Array.from(b);
}

function randomInput(random: Random): Uint8Array {
  const r = random();
  if (r < 0.45) return randomPacket(random);
  if (r < 0.9) return mutate(random, randomPacket(random));
  if (r < 0.95) return Uint8Array.from([0x10, ...bytesOf(random, int(random, 40))]);
  return Uint8Array.from(random() < 0.5 ? bytesOf(random, int(random, 64)) : utf8(randomText(random, 40)));
}

function check(input: Uint8Array, random: Random): MqttConnectParse['kind'] {
  let whole: MqttConnectParse;
  try {
    whole = parseMqttConnect(input);
  } catch (err) {
    assert.fail(`threw ${(err as Error).message} on ${Buffer.from(input).toString('hex')}`);
  }
  if (whole.kind === 'invalid') assert.ok(whole.reason.length > 0, 'a refusal has a reason');
  if (whole.kind === 'connect') {
    assert.ok(whole.connect.parsedLength <= input.length, 'never claims bytes it was not given');
    assert.ok(whole.connect.parsedLength <= whole.connect.packetLength, 'never reads past the packet');
  }
  // a few prefixes: each is need-more or already the final answer
  for (let k = 0; k < 3 && input.length > 0; k++) {
    const n = int(random, input.length);
    const part = parseMqttConnect(input.subarray(0, n));
    if (part.kind !== 'need-more') assert.deepEqual(part, whole, `prefix ${n} of ${Buffer.from(input).toString('hex')}`);
  }
  return whole.kind;
}

describe('MQTT CONNECT parser fuzz', () => {
  // about 1-4 s; a machine busy with other test runs made it 21 s under Bun: the bound catches a parser that
  // turned slow (quadratic), not a slow machine
  it(`${CASES.toLocaleString('en')} seeded inputs: no throw, consistent answers, every kind reached`, { timeout: 120_000 }, () => {
    const random = prng(0x4d515454);
    const kinds = { 'need-more': 0, invalid: 0, connect: 0 };
    const started = Date.now();
    for (let i = 0; i < CASES; i++) kinds[check(randomInput(random), random)]++;
    // the generator reaches every outcome often enough to matter
    for (const [kind, n] of Object.entries(kinds)) assert.ok(n > CASES / 50, `${kind}: ${n}`);
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
  });
});
