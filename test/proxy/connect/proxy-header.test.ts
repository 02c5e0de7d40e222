// PROXY header writer: plan compilation errors, byte-exact agreement with HAProxy's own headers, family and
// fallback choices, TLV caps, and a seeded round trip writer -> parser (whole and one byte per segment).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import {
  compileProxyHeaderPlan,
  writeProxyHeader,
  writeProxyLocalHeader,
  type ProxyHeaderFacts,
  type ProxyHeaderPlan,
  type ProxyHeaderSpec,
  type ProxyTlvSpec,
} from '../../../src/proxy/connect/proxy-header';
import { parseProxyDatagram, parseProxyHeader, type ProxyHeader } from '../../../src/proxy/prelude/proxy-protocol';
import { computeCrc32c } from '../../../src/lib/crc32c';
import { formatIpv6 } from '../../../src/lib/ip-bytes';
import { HAPROXY_VECTORS, vectorBytes } from '../../fixtures/proxy-protocol/haproxy-vectors';
import { INET_BLOCK, ascii, cat, parsedHeader, receiveBytewise, seededRandom, tlv, u32, v2 } from '../../helpers/proxy-protocol';

function plan(spec: ProxyHeaderSpec, transport: 'tcp' | 'udp' = 'tcp'): ProxyHeaderPlan {
  const compiled = compileProxyHeaderPlan(spec, transport);
  if (typeof compiled === 'string') throw new Error(compiled);
  return compiled;
}
const ends = (src: string, sport: number, dst: string, dport: number): ProxyHeaderFacts => ({
  source: { addr: src, port: sport },
  destination: { addr: dst, port: dport },
});
const header = (vector: keyof typeof HAPROXY_VECTORS): Uint8Array =>
  vectorBytes(HAPROXY_VECTORS[vector]).subarray(0, HAPROXY_VECTORS[vector].headerLength);
const text = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

describe('compileProxyHeaderPlan', () => {
  const table: [spec: unknown, transport: 'tcp' | 'udp', reason: string][] = [
    [{ version: 3 }, 'tcp', 'proxy_protocol.version: 3 is neither 1 nor 2'],
    [{ version: 1 }, 'udp', 'proxy_protocol.version: 1 has no UDP form (v1 carries TCP4 and TCP6 only); use 2'],
    [{ version: 1, tlvs: ['authority'] }, 'tcp', 'proxy_protocol.tlvs: TLVs need version 2'],
    [{ version: 2, tlvs: ['sni'] }, 'tcp', 'proxy_protocol.tlvs[0]: "sni" is none of authority, ssl, unique_id, netns, alpn, crc32c or a custom {type, value}'],
    [{ version: 2, tlvs: ['ssl', 'authority', 'ssl'] }, 'tcp', 'proxy_protocol.tlvs[2]: "ssl" is listed twice'],
    [{ version: 2, tlvs: [null] }, 'tcp', 'proxy_protocol.tlvs[0]: expected a name or {type, value}'],
    [{ version: 2, tlvs: [{ type: 0x90, value: 'x' }] }, 'tcp', 'proxy_protocol.tlvs[0]: type 0x90 is not custom (0xE0-0xEF)'],
    [{ version: 2, tlvs: [{ type: 0xf0, value: 'x' }] }, 'tcp', 'proxy_protocol.tlvs[0]: type 0xF0 is not custom (0xE0-0xEF)'],
    [{ version: 2, tlvs: [{ type: '0xE0', value: 'x' }] }, 'tcp', 'proxy_protocol.tlvs[0]: type must be an integer 0xE0-0xEF (224-239), got "0xE0"'],
    [{ version: 2, tlvs: [{ type: 2.5, value: 'x' }] }, 'tcp', 'proxy_protocol.tlvs[0]: type must be an integer 0xE0-0xEF (224-239), got 2.5'],
    [{ version: 2, tlvs: [{ type: 0x1000, value: 'x' }] }, 'tcp', 'proxy_protocol.tlvs[0]: type 4096 is not custom (0xE0-0xEF)'],
    [{ version: 2, tlvs: [{ type: 0xe0, value: 'a' }, { type: 0xe0, value: 'b' }] }, 'udp', 'proxy_protocol.tlvs[1]: type 0xE0 is listed twice'],
    [{ version: 2, tlvs: [{ type: 0xe0, value: 5 }] }, 'tcp', 'proxy_protocol.tlvs[0]: value must be text or one of $route_id, $server_port'],
    [{ version: 2, tlvs: [{ type: 0xe0, value: '$remote_addr' }] }, 'tcp', 'proxy_protocol.tlvs[0]: unknown variable $remote_addr; known: $route_id, $server_port'],
    [{ version: 2, tlvs: [{ type: 0xe0, value: 'é'.repeat(128) }] }, 'tcp', 'proxy_protocol.tlvs[0]: value is 256 bytes, over 255'],
  ];
  for (const [spec, transport, reason] of table) {
    it(reason, () => assert.equal(compileProxyHeaderPlan(spec as ProxyHeaderSpec, transport), reason));
  }
  it('keeps the order of the list', () => {
    const p = plan({ version: 2, tlvs: ['crc32c', { type: 0xe1, value: '$server_port' }, 'authority', { type: 0xe0, value: 'k' }] });
    assert.deepEqual(p.steps.map((s) => s.kind), ['crc32c', 'server_port', 'authority', 'static']);
    assert.equal(p.transport, 'tcp');
  });
});

describe('writeProxyHeader: the same bytes as HAProxy 2.6 for the same connection', () => {
  it('send-proxy (v1), IPv4 and IPv6', () => {
    assert.deepEqual(writeProxyHeader(plan({ version: 1 }), ends('127.0.0.1', 34544, '127.0.0.1', 18401)), header('v1Tcp4'));
    assert.deepEqual(writeProxyHeader(plan({ version: 1 }), ends('::1', 44226, '::1', 18403)), header('v1Tcp6'));
  });
  it('send-proxy-v2, IPv4 and IPv6', () => {
    assert.deepEqual(writeProxyHeader(plan({ version: 2 }), ends('127.0.0.1', 35408, '127.0.0.1', 18402)), header('v2Tcp4'));
    assert.deepEqual(writeProxyHeader(plan({ version: 2 }), ends('::1', 40144, '::1', 18404)), header('v2Tcp6'));
  });
  it('send-proxy-v2-ssl-cn with authority, crc32c, unique-id and the certificate facts, CRC32C included', () => {
    const p = plan({ version: 2, tlvs: ['crc32c', 'authority', 'unique_id', 'ssl'] });
    const facts: ProxyHeaderFacts = {
      ...ends('127.0.0.1', 48412, '127.0.0.1', 18405),
      authority: 'a.test.com',
      uniqueId: 'conn-42-127.0.0.1',
      ssl: {
        version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', cn: 'weir test client', sigAlg: 'RSA-SHA256', keyAlg: 'RSA2048',
        certPresented: true, certVerified: true,
      },
    };
    assert.deepEqual(writeProxyHeader(p, facts), header('v2SslCn'));
  });
  it('health checks: v2 LOCAL, and a v1 line from the check connection\'s own addresses', () => {
    assert.deepEqual(writeProxyLocalHeader(2), header('v2LocalCheck'));
    assert.deepEqual(writeProxyLocalHeader(1, { addr: '127.0.0.1', port: 58790 }, { addr: '127.0.0.1', port: 18511 }), header('v1Check'));
    assert.equal(text(writeProxyLocalHeader(1)), 'PROXY UNKNOWN\r\n');
  });
  it('differs on purpose in one place: <verify> is 1, not 0, when no client certificate was verified', () => {
    // HAProxy's v2SslNoCert and v2SslPlain carry verify 0 without a certificate; the spec says non-zero
    const p = plan({ version: 2, tlvs: ['ssl'] });
    const plain = writeProxyHeader(p, ends('127.0.0.1', 1, '127.0.0.1', 2));
    assert.deepEqual([...plain.subarray(28)], [0x20, 0, 5, 0, ...u32(1)]);
  });
});

describe('writeProxyHeader: families and fallbacks', () => {
  const v1 = plan({ version: 1 });
  const v2tcp = plan({ version: 2 });
  const v2udp = plan({ version: 2 }, 'udp');
  it('unmaps IPv4-mapped addresses and drops zones, as weir reports clients', () => {
    assert.equal(text(writeProxyHeader(v1, ends('::ffff:10.0.0.1', 1, '10.0.0.2', 2))), 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
    assert.equal(text(writeProxyHeader(v1, ends('fe80::1%eth0', 1, 'FE80::0:2', 2))), 'PROXY TCP6 fe80::1 fe80::2 1 2\r\n');
  });
  it('maps the IPv4 side of a mixed pair into IPv6 (v1 in dotted form, as HAProxy)', () => {
    assert.equal(text(writeProxyHeader(v1, ends('203.0.113.7', 40000, '2001:db8::1', 443))), 'PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 40000 443\r\n');
    assert.equal(text(writeProxyHeader(v1, ends('2001:db8::7', 40000, '198.51.100.1', 443))), 'PROXY TCP6 2001:db8::7 ::ffff:198.51.100.1 40000 443\r\n');
    const bytes = writeProxyHeader(v2tcp, ends('203.0.113.7', 40000, '2001:db8::1', 443));
    assert.deepEqual([bytes[13], bytes.length], [0x21, 52]);
    assert.deepEqual([...bytes.subarray(16, 32)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7]);
    const h = parsedHeader(bytes);
    assert.deepEqual([h.family, h.source, h.destination], ['ipv6', { addr: '203.0.113.7', port: 40000 }, { addr: '2001:db8::1', port: 443 }]);
  });
  it('UDP: v2 family bytes 0x12 and 0x22, and the datagram parser takes them', () => {
    const four = writeProxyHeader(v2udp, ends('10.0.0.1', 5000, '10.0.0.2', 53));
    assert.deepEqual([...four], [...v2(0x21, 0x12, [10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0, 53])]);
    const six = writeProxyHeader(v2udp, ends('::1', 5000, '::2', 53));
    assert.equal(six[13], 0x22);
    const r = parseProxyDatagram(cat(six, 'ping'));
    assert.deepEqual(r.kind === 'done' && [r.header.source, r.payloadOffset], [{ addr: '::1', port: 5000 }, 52]);
  });
  it('sends UNKNOWN (v1) or LOCAL UNSPEC with its TLVs (v2) when an end is not an IP address or a port is out of range', () => {
    const withAuthority = plan({ version: 2, tlvs: ['authority'] });
    for (const facts of [
      ends('/run/client.sock', 0, '10.0.0.2', 2),
      ends('10.0.0.1', 1, '', 2),
      ends('10.0.0.1', 70000, '10.0.0.2', 2),
      ends('10.0.0.1', 1, '10.0.0.2', -1),
      ends('10.0.0.1', 1.5, '10.0.0.2', 2),
    ]) {
      assert.equal(text(writeProxyHeader(v1, facts)), 'PROXY UNKNOWN\r\n');
      assert.deepEqual(writeProxyHeader(withAuthority, { ...facts, authority: 'a' }), v2(0x20, 0x00, tlv(0x02, 'a')));
    }
  });
  it('writes ports 0 and 65535 and the longest v1 line (104 bytes)', () => {
    const max = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = text(writeProxyHeader(v1, ends(max, 65535, max, 65535)));
    assert.equal(line, `PROXY TCP6 ${max} ${max} 65535 65535\r\n`);
    assert.equal(line.length, 104);
    assert.deepEqual(parsedHeader(writeProxyHeader(v2tcp, ends('0.0.0.0', 0, '255.255.255.255', 65535))).destination, { addr: '255.255.255.255', port: 65535 });
  });
});

describe('writeProxyHeader: TLVs', () => {
  const all = plan({
    version: 2,
    tlvs: ['authority', 'unique_id', 'ssl', 'netns', 'alpn', 'crc32c', { type: 0xe0, value: '$route_id' }, { type: 0xe1, value: '$server_port' }, { type: 0xef, value: 'static é' }],
  });
  const facts: ProxyHeaderFacts = {
    ...ends('192.168.0.1', 56324, '192.168.0.11', 443),
    authority: 'bücher.example',
    uniqueId: 'weir-7',
    ssl: { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', certPresented: true, certVerified: false, sessionReused: true },
    netns: 'blue',
    alpn: 'h2',
    routeId: 'route-😀',
  };
  it('writes each in plan order, the way the spec lays them out', () => {
    const bytes = writeProxyHeader(all, facts);
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    const before = [
      INET_BLOCK,
      tlv(0x02, enc('bücher.example')),
      tlv(0x05, 'weir-7'),
      tlv(0x20, cat([0x05], u32(1), tlv(0x21, 'TLSv1.2'), tlv(0x23, 'ECDHE-RSA-AES128-GCM-SHA256'))),
      tlv(0x30, 'blue'),
      tlv(0x01, 'h2'),
    ];
    const after = [tlv(0xe0, enc('route-😀')), tlv(0xe1, '443'), tlv(0xef, enc('static é'))];
    const want = v2(0x21, 0x11, cat(...before, tlv(0x03, [0, 0, 0, 0]), ...after));
    // the sender's CRC32C rule: checksum of the header with a zeroed field, written into the field
    want.set(u32(computeCrc32c(want)), 16 + cat(...before).length + 3);
    assert.deepEqual(bytes, want);
    const h = parsedHeader(bytes);
    assert.deepEqual(h.tlvs.ssl, {
      client: 5, tls: true, certInConnection: false, certInSession: true, verify: 1, certVerified: false,
      version: 'TLSv1.2', cn: null, cipher: 'ECDHE-RSA-AES128-GCM-SHA256', sigAlg: null, keyAlg: null,
    });
    assert.equal(typeof h.tlvs.crc32c, 'number');
  });
  it('leaves out what is missing or over its cap, never cuts; a variable without a value is sent empty', () => {
    const bytes = writeProxyHeader(all, {
      ...ends('192.168.0.1', 56324, '192.168.0.11', 443),
      authority: 'a'.repeat(256),
      uniqueId: 'u'.repeat(129),
      netns: 'blå',
      alpn: null,
      ssl: { version: 'TLSv1.3', cipher: 'ÀES', cn: 'c'.repeat(256), certPresented: false, certVerified: false },
    });
    const t = parsedHeader(bytes).tlvs;
    assert.deepEqual([t.authority, t.uniqueId, t.netns, t.alpn], [null, null, null, null]);
    assert.deepEqual([t.ssl!.client, t.ssl!.verify, t.ssl!.version, t.ssl!.cipher, t.ssl!.cn], [1, 1, 'TLSv1.3', null, null]);
    assert.deepEqual(t.custom, [
      { type: 0xe0, value: new Uint8Array(0) },
      { type: 0xe1, value: ascii('443') },
      { type: 0xef, value: new TextEncoder().encode('static é') },
    ]);
    const edge = parsedHeader(writeProxyHeader(all, { ...facts, authority: 'a'.repeat(255), uniqueId: 'u'.repeat(128) })).tlvs;
    assert.deepEqual([edge.authority!.length, edge.uniqueId!.length], [255, 128]);
  });
  it('allocates one buffer of the exact size per header, and the plan is not changed by writing', () => {
    const before = JSON.stringify(all);
    const a = writeProxyHeader(all, facts);
    const b = writeProxyHeader(all, facts);
    assert.notEqual(a.buffer, b.buffer);
    assert.equal(a.byteLength, a.buffer.byteLength);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(all), before);
  });
});

// ---- seeded round trip ----

/** weir's form of an address, computed with ipaddr.js (independent of ip-bytes). */
function normalForm(addr: string): string {
  const bare = addr.split('%')[0]!;
  const ip = ipaddr.parse(bare);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) return (ip as ipaddr.IPv6).toIPv4Address().toString();
  return ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString();
}

function randomAddress(random: () => number): string {
  const r = random();
  const octet = () => Math.floor(random() * 256);
  if (r < 0.4) return `${octet()}.${octet()}.${octet()}.${octet()}`;
  if (r < 0.5) return `::ffff:${octet()}.${octet()}.${octet()}.${octet()}`;
  const bytes = Uint8Array.from({ length: 16 }, () => (random() < 0.4 ? 0 : octet()));
  const v6 = formatIpv6(bytes, 0, false);
  if (r < 0.55) return `${v6}%eth0`;
  if (r < 0.6) return v6.toUpperCase();
  return v6;
}

function randomText(random: () => number, max: number, asciiOnly = false): string {
  const length = Math.floor(random() * max);
  let s = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    if (asciiOnly || r < 0.8) s += String.fromCharCode(0x20 + Math.floor(random() * 0x5f));
    else if (r < 0.9) s += 'é';
    else s += '😀';
  }
  return s;
}

const ITEMS: ProxyTlvSpec[] = ['authority', 'unique_id', 'ssl', 'netns', 'alpn', 'crc32c'];

function randomCase(random: () => number): { spec: ProxyHeaderSpec; transport: 'tcp' | 'udp'; facts: ProxyHeaderFacts } {
  const version = random() < 0.3 ? 1 : 2;
  const transport = version === 2 && random() < 0.4 ? 'udp' : 'tcp';
  const tlvs: ProxyTlvSpec[] = [];
  if (version === 2) {
    for (const item of ITEMS) if (random() < 0.5) tlvs.splice(Math.floor(random() * (tlvs.length + 1)), 0, item);
    if (random() < 0.5) tlvs.push({ type: 0xe0, value: '$route_id' });
    if (random() < 0.5) tlvs.push({ type: 0xe1, value: '$server_port' });
    if (random() < 0.5) tlvs.push({ type: 0xe2 + Math.floor(random() * 14), value: 'v' + randomText(random, 40) });
  }
  const port = () => (random() < 0.02 ? 70000 : Math.floor(random() * 65536));
  const facts: ProxyHeaderFacts = {
    source: { addr: random() < 0.03 ? '/run/x.sock' : randomAddress(random), port: port() },
    destination: { addr: randomAddress(random), port: port() },
    authority: random() < 0.8 ? randomText(random, 300) : null,
    uniqueId: random() < 0.8 ? randomText(random, 150) : null,
    netns: random() < 0.7 ? randomText(random, 20, random() < 0.8) : null,
    alpn: random() < 0.7 ? randomText(random, 10, true) : null,
    routeId: random() < 0.7 ? randomText(random, 30) : null,
    ssl: random() < 0.7
      ? {
          version: randomText(random, 10, true), cipher: randomText(random, 40, true), cn: random() < 0.5 ? randomText(random, 70) : null,
          sigAlg: random() < 0.5 ? 'RSA-SHA256' : null, keyAlg: random() < 0.5 ? 'EC256' : null,
          certPresented: random() < 0.5, certVerified: random() < 0.5, sessionReused: random() < 0.3,
        }
      : null,
  };
  return { spec: { version, tlvs }, transport, facts };
}

/** What the parser must report for a case: computed from the facts, not from the writer's bytes. */
function expected(spec: ProxyHeaderSpec, transport: 'tcp' | 'udp', facts: ProxyHeaderFacts): Omit<ProxyHeader, 'headerLength' | 'tlvs'> & { tlvs: unknown } {
  const validEnd = (e: { addr: string; port: number }) =>
    Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535 && ipaddr.isValid(e.addr.split('%')[0]!) && !/^\d+$/.test(e.addr);
  const proxied = validEnd(facts.source) && validEnd(facts.destination);
  const source = proxied ? { addr: normalForm(facts.source.addr), port: facts.source.port } : null;
  const destination = proxied ? { addr: normalForm(facts.destination.addr), port: facts.destination.port } : null;
  const family = !proxied ? 'unspec' : source!.addr.includes(':') || destination!.addr.includes(':') ? 'ipv6' : 'ipv4';
  const enc = new TextEncoder();
  const fits = (s: string | null | undefined, max: number) => (s != null && enc.encode(s).length <= max ? s : null);
  const isAscii = (s: string | null | undefined, max = 255) => (s != null && /^[\x00-\x7f]*$/.test(s) && s.length <= max ? s : null);
  const has = (name: string) => (spec.tlvs ?? []).includes(name as ProxyTlvSpec);
  const ssl = facts.ssl;
  const tlvs = spec.version === 1 ? null : {
    alpn: has('alpn') && fits(facts.alpn, 255) !== null ? enc.encode(facts.alpn!) : null,
    authority: has('authority') ? fits(facts.authority, 255) : null,
    uniqueId: has('unique_id') && fits(facts.uniqueId, 128) !== null ? enc.encode(facts.uniqueId!) : null,
    netns: has('netns') ? isAscii(facts.netns) : null,
    ssl: !has('ssl') ? null : ssl
      ? {
          tls: true, certInSession: ssl.certPresented, certInConnection: ssl.certPresented && !ssl.sessionReused,
          certVerified: ssl.certPresented && ssl.certVerified, version: isAscii(ssl.version), cipher: isAscii(ssl.cipher),
          cn: fits(ssl.cn, 255), sigAlg: isAscii(ssl.sigAlg), keyAlg: isAscii(ssl.keyAlg),
        }
      : { tls: false, certInSession: false, certInConnection: false, certVerified: false, version: null, cipher: null, cn: null, sigAlg: null, keyAlg: null },
    crc: has('crc32c'),
    custom: (spec.tlvs ?? []).filter((t): t is { type: number; value: string } => typeof t === 'object').map((t) => ({
      type: t.type,
      value: enc.encode(t.value === '$route_id' ? fits(facts.routeId, 255) ?? '' : t.value === '$server_port' ? String(facts.destination.port) : t.value),
    })),
  };
  return {
    version: spec.version,
    command: spec.version === 2 && !proxied ? 'local' : 'proxy',
    family: family as ProxyHeader['family'],
    transport: !proxied ? 'unspec' : transport === 'udp' ? 'dgram' : 'stream',
    source: spec.version === 2 && !proxied ? null : source,
    destination: spec.version === 2 && !proxied ? null : destination,
    tlvs,
  };
}

function observed(h: ProxyHeader): Omit<ProxyHeader, 'headerLength' | 'tlvs'> & { tlvs: unknown } {
  const t = h.tlvs;
  return {
    version: h.version, command: h.command, family: h.family, transport: h.transport, source: h.source, destination: h.destination,
    tlvs: h.version === 1 ? null : {
      alpn: t.alpn, authority: t.authority, uniqueId: t.uniqueId, netns: t.netns,
      ssl: t.ssl && {
        tls: t.ssl.tls, certInSession: t.ssl.certInSession, certInConnection: t.ssl.certInConnection, certVerified: t.ssl.certVerified,
        version: t.ssl.version, cipher: t.ssl.cipher, cn: t.ssl.cn, sigAlg: t.ssl.sigAlg, keyAlg: t.ssl.keyAlg,
      },
      crc: t.crc32c !== null,
      custom: t.custom,
    },
  };
}

describe('writer -> parser round trip (seeded)', () => {
  it('3,000 random connections come back as they went in; 300 of them also one byte per segment', () => {
    const random = seededRandom(14);
    for (let i = 0; i < 3000; i++) {
      const { spec, transport, facts } = randomCase(random);
      const bytes = writeProxyHeader(plan(spec, transport), facts);
      const whole = parseProxyHeader(cat(bytes, 'after'));
      assert.equal(whole.kind, 'done', `case ${i}: ${whole.kind === 'invalid' ? whole.reason : whole.kind}`);
      const h = (whole as { header: ProxyHeader }).header;
      assert.equal(h.headerLength, bytes.length, `case ${i}`);
      assert.deepEqual(observed(h), expected(spec, transport, facts), `case ${i}: ${JSON.stringify(facts)}`);
      if (transport === 'udp') assert.deepEqual(parseProxyDatagram(bytes), { kind: 'done', header: h, payloadOffset: bytes.length });
      if (i % 10 === 0) assert.deepEqual(receiveBytewise(cat(bytes, 'after')), { result: whole, received: bytes.length });
    }
  });
});
