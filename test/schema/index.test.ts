// Public surface of src/schema: normalizeId, bodies returned untouched, and robustness against hostile input
// (a seeded fuzz of ~1000 random JSON values per validator that must never throw).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeId, normalizeNodes, validateSsl, validateStreamRoute, validateUpstream } from '../../src/schema/index';
import { checkStreamRoute } from '../../src/schema/stream-route';
import { checkUpstream } from '../../src/schema/upstream';
import { checkSsl } from '../../src/schema/ssl';
import { pem as tlsPem } from '../tls/fixtures';
import { prng } from '../helpers/random';
import { HOST_PAT_Q } from './schema.cases';


describe('normalizeId', () => {
  const rows: [unknown, string | null][] = [
    ['a-b-c-ABC_0123', 'a-b-c-ABC_0123'],
    ['00000000000000000046', '00000000000000000046'],
    ['x.y', 'x.y'],
    [1, '1'],
    [9007199254740991, '9007199254740991'],
    ['*invalid', null],
    ['', null],
    ['x'.repeat(65), null],
    [0, null],
    [-1, null],
    [1.5, null],
    [1e21, null],
    [null, null],
    [['1'], null],
    [{ id: 1 }, null],
  ];
  for (const [id, expected] of rows) {
    it(`${JSON.stringify(id)} -> ${JSON.stringify(expected)}`, () => assert.equal(normalizeId(id), expected));
  }
});

describe('valid bodies come back exactly as sent', () => {
  it('no defaults are filled in (type, scheme, priority, status stay absent)', () => {
    const route = { upstream: { nodes: [{ host: '127.0.0.1', port: 1, weight: 1 }] } };
    const upstream = { nodes: { '127.0.0.1:1': 1 } };
    const ssl = { cert: tlsPem.a.cert, key: tlsPem.a.key, sni: 'a.com' };
    for (const [validate, body] of [[validateStreamRoute, route], [validateUpstream, upstream], [validateSsl, ssl]] as const) {
      const copy = structuredClone(body);
      const result = validate(body);
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.value, body);
      assert.deepEqual(body, copy);
    }
  });
});

describe('hostile input', () => {
  it('huge strings are clipped in messages', () => {
    const huge = 'a'.repeat(1_000_000);
    const result = validateStreamRoute({ sni: `${huge} b` });
    assert.deepEqual(result, {
      ok: false,
      message: `invalid configuration: property "sni" validation failed: failed to match pattern ${HOST_PAT_Q} with "${'a'.repeat(200)}..."`,
    });
    const plugin = validateStreamRoute({ plugins: { [`p${'x'.repeat(500_000)}`]: {} } });
    assert.deepEqual(plugin, { ok: false, message: `unknown plugin [p${'x'.repeat(199)}...]` });
  });

  it('deep nesting is rejected or stored without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? { a: deep } : [deep]; // outermost: { a: [...] }
    assert.deepEqual(validateStreamRoute(deep), { ok: false, message: 'invalid configuration: additional properties forbidden, found a' });
    assert.equal(validateStreamRoute({ plugins: { 'traffic-split': { deep } } }).ok, true);
    assert.deepEqual(validateUpstream({ nodes: [deep] }), {
      ok: false, message: 'invalid configuration: property "nodes" validation failed: object matches none of the required',
    });
    assert.deepEqual(normalizeNodes(deep), []);
  });

  it('prototype-looking keys are plain keys', () => {
    assert.deepEqual(validateStreamRoute(JSON.parse('{"__proto__":{"x":1}}')), {
      ok: false, message: 'invalid configuration: additional properties forbidden, found __proto__',
    });
    assert.deepEqual(validateStreamRoute(JSON.parse('{"labels":{"constructor":"a b"}}')), {
      ok: false,
      message: String.raw`invalid configuration: property "labels" validation failed: failed to validate constructor (matching ".*"): failed to match pattern "^\\S+$" with "a b"`,
    });
    // map-form nodes sit under an anyOf: whatever fails inside, APISIX names only `nodes`
    assert.deepEqual(validateUpstream(JSON.parse('{"nodes":{"__proto__":-1}}')), {
      ok: false, message: 'invalid configuration: property "nodes" validation failed: object matches none of the required',
    });
    assert.equal(validateUpstream(JSON.parse('{"nodes":{"__proto__":1}}')).ok, false, 'the key is no host:port');
  });
});

// ---- seeded fuzz ----

const KEYS = [
  'id', 'name', 'desc', 'labels', 'create_time', 'update_time', 'remote_addr', 'server_addr', 'server_port', 'sni', 'upstream',
  'upstream_id', 'service_id', 'plugins', 'protocol', 'nodes', 'type', 'hash_on', 'key', 'retries', 'retry_timeout', 'timeout',
  'scheme', 'tls', 'checks', 'active', 'passive', 'host', 'port', 'weight', 'priority', 'cert', 'key', 'certs', 'keys', 'snis',
  'client', 'ca', 'status', 'ssl_protocols', 'limit-conn', 'mqtt-proxy', 'connect', 'send', 'read', 'client_cert', 'client_key',
  '127.0.0.1:80', '[::1]:80', '::1:80', 'localhost', '__proto__', 'constructor', 'toString', 'foo', '',
];
const STRINGS = [
  '', '1', '80', '127.0.0.1', '::1', ':/8', '127.0.0.1/26', 'a b', '*', '*.a.com', 'chash', 'roundrobin', 'tcp', 'TLSv1.2',
  'server', 'client', 'remote_addr', '$env://X', 'x'.repeat(300), '\u0000', '\ud83d\ude00', '[::1]:0', 'null', '{}',
];
const NUMBERS = [0, 1, -1, 1.5, 65535, 65536, 1e21, -0, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2];

function randomJson(rand: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const kind = Math.floor(rand() * (depth > 0 ? 7 : 5));
  switch (kind) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick(NUMBERS);
    case 3: return pick(STRINGS);
    case 4: return pick(STRINGS).repeat(1 + Math.floor(rand() * 3));
    case 5: return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth - 1));
    default: return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(KEYS), randomJson(rand, depth - 1)]));
  }
}

/** Put a random value at a random key of a valid body, so the fuzz reaches past the first check. */
function mutate(rand: () => number, body: Record<string, unknown>): unknown {
  const copy = structuredClone(body);
  const key = KEYS[Math.floor(rand() * KEYS.length)];
  const target = rand() < 0.5 && typeof copy.upstream === 'object' ? copy.upstream as Record<string, unknown> : copy;
  Object.defineProperty(target, key, { value: randomJson(rand, 3), enumerable: true, writable: true, configurable: true });
  return copy;
}

describe('fuzz: ~1000 random JSON values per validator never throw', () => {
  const templates: Record<string, Record<string, unknown>> = {
    route: { remote_addr: '127.0.0.1', server_port: 9100, upstream: { nodes: { '127.0.0.1:1995': 1 }, type: 'chash', key: 'remote_addr' } },
    upstream: { nodes: [{ host: '[::1]', port: 1, weight: 1 }], timeout: { connect: 1, send: 1, read: 1 } },
    ssl: { cert: tlsPem.a.cert, key: tlsPem.a.key, snis: ['a.com'] },
  };
  const checkers: [string, (body: unknown) => string | null, Record<string, unknown>][] = [
    ['stream route', checkStreamRoute, templates.route],
    ['upstream', checkUpstream, templates.upstream],
    ['ssl', checkSsl, templates.ssl],
  ];
  for (const [label, check, template] of checkers) {
    it(label, () => {
      const rand = prng(0x5eed + label.length);
      let failures = 0;
      for (let i = 0; i < 1000; i++) {
        const body = i % 2 === 0 ? randomJson(rand, 4) : mutate(rand, template);
        const message = check(body); // a throw fails the test with the offending input on the stack
        assert.ok(message === null || (typeof message === 'string' && message.length > 0 && message.length < 1200), String(message));
        if (message !== null) failures++;
        normalizeNodes((body as { nodes?: unknown } | null)?.nodes ?? body);
      }
      // the fuzz must exercise both outcomes, or it is not testing much
      assert.ok(failures > 500 && failures < 1000, `failures=${failures}`);
    });
  }
});
