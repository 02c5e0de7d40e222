// The MQTT CONNECT parser: every field of 3.1.1 and 5.0 packets (APISIX's test vectors among them), every
// way a packet can be malformed with the exact reason, and every split point: a prefix is 'need-more'
// until the client identifier is complete, and the answer never changes once given.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMqttConnect, type MqttConnect, type MqttConnectParse } from '../../src/plugins/mqtt-connect';
import { APISIX_V4_FOO, APISIX_V5_EMPTY, APISIX_V5_F, connectPacket, lp, utf8, varint } from './mqtt-packets';

function connectOf(bytes: Uint8Array): MqttConnect {
  const r = parseMqttConnect(bytes);
  assert.equal(r.kind, 'connect', JSON.stringify(r));
  return (r as { connect: MqttConnect }).connect;
}

const CLEAN = { cleanStart: true, will: false, willQos: 0, willRetain: false, password: false, username: false };

describe('MQTT CONNECT: fields', () => {
  it("APISIX's 3.1.1 vector: MQTT level 4, clean session, keep alive 60, client id foo", () => {
    assert.deepEqual(connectOf(APISIX_V4_FOO), {
      protocolName: 'MQTT', protocolLevel: 4, flags: CLEAN, keepAlive: 60, properties: null, clientId: 'foo', parsedLength: 17, packetLength: 17,
    });
  });

  it("APISIX's 5.0 vectors: an empty property block, then an empty client id or 'f'", () => {
    assert.deepEqual(connectOf(APISIX_V5_EMPTY), {
      protocolName: 'MQTT', protocolLevel: 5, flags: CLEAN, keepAlive: 60, properties: { userProperties: [] }, clientId: '', parsedLength: 15, packetLength: 15,
    });
    assert.equal(connectOf(APISIX_V5_F).clientId, 'f');
  });

  it('MQTT 3.1 (MQIsdp, level 3) is read with the 3.1.1 layout', () => {
    const c = connectOf(connectPacket({ name: 'MQIsdp', level: 3, clientId: 'old' }));
    assert.deepEqual([c.protocolName, c.protocolLevel, c.clientId, c.properties], ['MQIsdp', 3, 'old', null]);
  });

  const flagTable: Array<[number, Partial<MqttConnect['flags']>]> = [
    [0x00, { cleanStart: false }],
    [0x02, {}],
    [0x04, { cleanStart: false, will: true }],
    [0x0c, { cleanStart: false, will: true, willQos: 1 }],
    [0x16, { will: true, willQos: 2 }],
    [0x26, { will: true, willRetain: true }],
    [0x82, { username: true }],
    [0xc2, { username: true, password: true }],
    [0xf6, { will: true, willQos: 2, willRetain: true, password: true, username: true }],
  ];
  for (const [byte, want] of flagTable) {
    it(`connect flags 0x${byte.toString(16).padStart(2, '0')}`, () => {
      assert.deepEqual(connectOf(connectPacket({ flags: byte })).flags, { ...CLEAN, ...want });
    });
  }

  it('keep alive 0 and 65535', () => {
    assert.equal(connectOf(connectPacket({ keepAlive: 0 })).keepAlive, 0);
    assert.equal(connectOf(connectPacket({ keepAlive: 65535 })).keepAlive, 65535);
  });

  it('client ids: empty, multi-byte UTF-8, 200 and 20,000 bytes (2- and 3-byte remaining lengths)', () => {
    assert.equal(connectOf(connectPacket({ clientId: '' })).clientId, '');
    assert.equal(connectOf(connectPacket({ clientId: 'añ€😀' })).clientId, 'añ€😀');
    const mid = 'm'.repeat(200);
    const big = 'b'.repeat(20_000);
    const p1 = connectPacket({ clientId: mid });
    const p2 = connectPacket({ clientId: big });
    assert.deepEqual([p1[1]! & 0x80, p2[1]! & 0x80, p2[2]! & 0x80, p2[3]! & 0x80], [0x80, 0x80, 0x80, 0], 'varint lengths 2 and 3');
    assert.equal(connectOf(p1).clientId, mid);
    assert.equal(connectOf(p2).clientId, big);
    assert.equal(connectOf(p2).packetLength, p2.length);
  });

  it('bytes after the client id (will, user name, password, the next packet) are not read', () => {
    const p = connectPacket({ flags: 0xc6, clientId: 'c', rest: [...lp('will/topic'), ...lp('bye'), ...lp('user'), ...lp('secret')] });
    const c = connectOf(p);
    assert.equal(c.parsedLength, 2 + 10 + 2 + 1);
    assert.equal(c.packetLength, p.length);
    // a CONNECT cut right after the client id is enough
    assert.deepEqual(connectOf(p.subarray(0, c.parsedLength)), c);
  });

  it('every MQTT 5 CONNECT property', () => {
    const props = [
      0x11, 0, 0, 0x0e, 0x10, // session expiry 3600
      0x21, 0, 20, // receive maximum 20
      0x27, 0, 1, 0, 0, // maximum packet size 65536
      0x22, 0, 10, // topic alias maximum 10
      0x19, 1, // request response information
      0x17, 0, // request problem information
      0x26, ...lp('region'), ...lp('eu'),
      0x26, ...lp('region'), ...lp('us'), // user properties may repeat
      0x15, ...lp('SCRAM-SHA-1'),
      0x16, ...lp([1, 2, 3, 4, 5]),
    ];
    const c = connectOf(connectPacket({ level: 5, props, clientId: 'v5' }));
    assert.deepEqual(c.properties, {
      sessionExpiryInterval: 3600,
      receiveMaximum: 20,
      maximumPacketSize: 65536,
      topicAliasMaximum: 10,
      requestResponseInformation: 1,
      requestProblemInformation: 0,
      userProperties: [['region', 'eu'], ['region', 'us']],
      authenticationMethod: 'SCRAM-SHA-1',
      authenticationDataLength: 5,
    });
    assert.equal(c.clientId, 'v5');
  });

  it('MQTT 5 allows a password without a user name; 3.1.1 does not', () => {
    assert.equal(connectOf(connectPacket({ level: 5, flags: 0x42 })).flags.password, true);
    assert.deepEqual(parseMqttConnect(connectPacket({ level: 4, flags: 0x42 })), { kind: 'invalid', reason: 'connect flags: password flag set without the user name flag' });
  });
});

describe('MQTT CONNECT: malformed packets and their reasons', () => {
  const bad = (bytes: number[] | Uint8Array): MqttConnectParse => parseMqttConnect(Uint8Array.from(bytes));
  const v5 = (props: number[], clientId: string | number[] = 'c') => connectPacket({ level: 5, props, clientId });
  const table: Array<[string, Uint8Array | number[], string]> = [
    ["APISIX's 'mmm'", utf8('mmm'), 'expected a CONNECT packet (first byte 0x10), got 0x6d'],
    ['a CONNACK', [0x20, 0x02, 0, 0], 'expected a CONNECT packet (first byte 0x10), got 0x20'],
    ['a TLS ClientHello', [0x16, 0x03, 0x01, 0x00, 0x05], 'expected a CONNECT packet (first byte 0x10), got 0x16'],
    ['CONNECT with reserved flags', [0x12, 0x0f], 'expected a CONNECT packet (first byte 0x10), got 0x12'],
    ['a 5-byte remaining length', [0x10, 0xff, 0xff, 0xff, 0xff, 0x01], 'remaining length is longer than 4 bytes'],
    ['remaining length 0', [0x10, 0x00], 'protocol name length runs past the end of the CONNECT packet (remaining length 0)'],
    ['a protocol name past the packet', [0x10, 0x05, 0, 4, ...utf8('MQT')], 'protocol name runs past the end of the CONNECT packet (remaining length 5)'],
    ['a protocol name that is not UTF-8', connectPacket({ name: [0x4d, 0xff] }), 'protocol name is not well-formed UTF-8 (or holds U+0000)'],
    ['a protocol name with U+0000', connectPacket({ name: [0x4d, 0x00] }), 'protocol name is not well-formed UTF-8 (or holds U+0000)'],
    ['no protocol level', [0x10, 0x06, ...lp('MQTT')], 'protocol level runs past the end of the CONNECT packet (remaining length 6)'],
    ['no keep alive', [0x10, 0x09, ...lp('MQTT'), 4, 2, 0], 'keep alive runs past the end of the CONNECT packet (remaining length 9)'],
    ['reserved flag bit', connectPacket({ flags: 0x03 }), 'connect flags: the reserved bit 0 is set'],
    ['will QoS 3', connectPacket({ flags: 0x1e }), 'connect flags: will QoS is 3'],
    ['will QoS without will', connectPacket({ flags: 0x0a }), 'connect flags: will QoS or will retain set without the will flag'],
    ['will retain without will', connectPacket({ flags: 0x22 }), 'connect flags: will QoS or will retain set without the will flag'],
    ['a client id past the packet', connectPacket({ clientId: 'abcdef', remaining: 14 }), 'client identifier runs past the end of the CONNECT packet (remaining length 14)'],
    ['no client id at all', connectPacket({ clientId: 'x', remaining: 10 }), 'client identifier length runs past the end of the CONNECT packet (remaining length 10)'],
    ['a client id that is not UTF-8', connectPacket({ clientId: [0x61, 0xc3] }), 'client identifier is not well-formed UTF-8 (or holds U+0000)'],
    ['an encoded surrogate in the client id', connectPacket({ clientId: [0xed, 0xa0, 0x80] }), 'client identifier is not well-formed UTF-8 (or holds U+0000)'],
    ['a client id with U+0000', connectPacket({ clientId: [0x61, 0x00] }), 'client identifier is not well-formed UTF-8 (or holds U+0000)'],
    ['v5: property length past the packet', [0x10, 0x0c, ...lp('MQTT'), 5, 2, 0, 60, 0x09, 0x11, 0, 0], 'property length 9 runs past the end of the CONNECT packet'],
    ['v5: a 5-byte property length', [0x10, 0x0f, ...lp('MQTT'), 5, 2, 0, 60, 0x80, 0x80, 0x80, 0x80, 0x01], 'property length is longer than 4 bytes'],
    ['v5: a property length cut by the packet', [0x10, 0x0b, ...lp('MQTT'), 5, 2, 0, 60, 0x80], 'property length runs past the end of the CONNECT packet (remaining length 11)'],
    ['v5: a property not allowed in CONNECT', v5([0x01, 1]), 'property 0x01 is not allowed in CONNECT'],
    ['v5: an unknown property id', v5([0x7f, 1]), 'property 0x7f is not allowed in CONNECT'],
    ['v5: a property twice', v5([0x21, 0, 1, 0x21, 0, 2]), 'property Receive Maximum appears twice'],
    ['v5: receive maximum 0', v5([0x21, 0, 0]), 'property Receive Maximum is 0'],
    ['v5: maximum packet size 0', v5([0x27, 0, 0, 0, 0]), 'property Maximum Packet Size is 0'],
    ['v5: request problem information 2', v5([0x17, 2]), 'property Request Problem Information is 2, not 0 or 1'],
    ['v5: request response information 7', v5([0x19, 7]), 'property Request Response Information is 7, not 0 or 1'],
    ['v5: authentication data without a method', v5([0x16, ...lp([1])]), 'property Authentication Data without Authentication Method'],
    ['v5: a property past its block', v5([0x11, 0, 0]), 'Session Expiry Interval runs past the end of the properties (length 3)'],
    ['v5: a user property name that is not UTF-8', v5([0x26, ...lp([0xff]), ...lp('v')]), 'user property name is not well-formed UTF-8 (or holds U+0000)'],
    ['v5: a user property without its value', v5([0x26, ...lp('k')]), 'user property value length runs past the end of the properties (length 4)'],
  ];
  for (const [what, bytes, reason] of table) {
    it(what, () => {
      assert.deepEqual(bad(bytes), { kind: 'invalid', reason });
    });
  }
});

describe('MQTT CONNECT: split points', () => {
  const valid: Array<[string, Uint8Array]> = [
    ['3.1.1', APISIX_V4_FOO],
    ['5.0, empty id', APISIX_V5_EMPTY],
    ['5.0 with properties', connectPacket({ level: 5, props: [0x11, 0, 0, 0, 9, 0x26, ...lp('a'), ...lp('b')], clientId: 'props' })],
    ['3-byte remaining length', connectPacket({ clientId: 'z'.repeat(17_000) })],
    ['with will and credentials after the id', connectPacket({ flags: 0xc6, clientId: 'w', rest: [...lp('t'), ...lp('m'), ...lp('u'), ...lp('p')] })],
  ];
  for (const [what, packet] of valid) {
    it(`${what}: need-more for every prefix short of the client id, the same CONNECT from there on`, () => {
      const whole = parseMqttConnect(packet);
      assert.equal(whole.kind, 'connect');
      const needed = (whole as { connect: MqttConnect }).connect.parsedLength;
      for (let n = 0; n <= packet.length; n++) {
        // the bytes a client sent so far, as several segments put together (the plane hands over all of them)
        const got = parseMqttConnect(packet.slice(0, n));
        if (n < needed) assert.deepEqual(got, { kind: 'need-more' }, `prefix ${n}`);
        else assert.deepEqual(got, whole, `prefix ${n}`);
      }
    });
  }

  it('a malformed packet is need-more until the bad byte arrives, then the same reason', () => {
    const packet = connectPacket({ flags: 0x1e, clientId: 'x' });
    const whole = parseMqttConnect(packet);
    for (let n = 0; n <= packet.length; n++) {
      const got = parseMqttConnect(packet.slice(0, n));
      assert.deepEqual(got, n < 10 ? { kind: 'need-more' } : whole, `prefix ${n}`);
    }
  });

  it('varint helper sanity: 127, 128, 16383, 16384 and the 4-byte maximum', () => {
    assert.deepEqual([varint(127), varint(128), varint(16383), varint(16384), varint(268_435_455)], [[127], [0x80, 1], [0xff, 0x7f], [0x80, 0x80, 1], [0xff, 0xff, 0xff, 0x7f]]);
  });
});
