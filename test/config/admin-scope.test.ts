// deployment.admin.admin_key[].scope and key_sha256: what is read, the defaults, and the exact errors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseError, parseOk } from './helpers';

const HASH = 'A'.repeat(64);

function keysYaml(items: string[]): string {
  return `deployment:\n  admin:\n    admin_key:\n${items.map((i) => `      - ${i}`).join('\n')}\n`;
}

describe('deployment.admin.admin_key scope and key_sha256', () => {
  it('reads a scope, with ids and methods defaulting to all', () => {
    const { config, warnings } = parseOk(
      keysYaml([
        '{name: a, key: k1, role: admin, scope: [{resource: stream_routes, ids: ["tenant-a-*", 7], methods: [get, PUT]}, {resource: "*"}]}',
        `{name: h, key_sha256: "${HASH}", role: viewer}`,
      ]),
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.admin.keys, [
      {
        name: 'a', key: 'k1', role: 'admin',
        scope: [
          { resource: 'stream_routes', ids: ['tenant-a-*', '7'], methods: ['GET', 'PUT'] },
          { resource: '*', ids: ['*'], methods: ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] },
        ],
      },
      { name: 'h', key: '', role: 'viewer', keySha256: 'a'.repeat(64) },
    ]);
  });

  const bad: Array<[string, string]> = [
    [`{name: a, key: k, key_sha256: "${HASH}", role: admin}`, 'deployment.admin.admin_key[0].key_sha256: give key or key_sha256, not both'],
    ['{name: a, key_sha256: abc, role: admin}', 'deployment.admin.admin_key[0].key_sha256: expected 64 hex digits (sha256 of the key), got "abc"'],
    ['{name: a, key: k, role: admin, scope: []}', 'deployment.admin.admin_key[0].scope: an empty scope allows nothing; leave it out for an unscoped key'],
    ['{name: a, key: k, role: admin, scope: [{ids: [x]}]}', 'deployment.admin.admin_key[0].scope[0].resource: missing (one of stream_routes, upstreams, ssls, stream_listeners, *)'],
    ['{name: a, key: k, role: admin, scope: [{resource: routes}]}', 'deployment.admin.admin_key[0].scope[0].resource: expected "stream_routes", "upstreams", "ssls", "stream_listeners" or "*", got "routes"'],
    ['{name: a, key: k, role: admin, scope: [{resource: "*", methods: [HEAD]}]}', 'deployment.admin.admin_key[0].scope[0].methods[0]: expected one of GET, PUT, POST, PATCH, DELETE, got "HEAD"'],
    ['{name: a, key: k, role: admin, scope: [{resource: "*", ids: [""]}]}', 'deployment.admin.admin_key[0].scope[0].ids[0]: empty'],
  ];
  for (const [item, message] of bad) it(`refuses ${item}`, () => assert.equal(parseError(keysYaml([item])), message));

  it('warns about unknown keys in a scope entry', () => {
    const { warnings } = parseOk(keysYaml(['{name: a, key: k, role: admin, scope: [{resource: "*", tenant: x}]}']));
    assert.deepEqual(warnings, ['unknown key deployment.admin.admin_key[0].scope[0].tenant (ignored)']);
  });

  it('two entries with the same hash are the same key', () => {
    assert.equal(
      parseError(keysYaml([`{name: a, key_sha256: "${HASH}", role: admin}`, `{name: b, key_sha256: "${HASH.toLowerCase()}", role: admin}`])),
      'deployment.admin.admin_key[1].key_sha256: same key as deployment.admin.admin_key[0]',
    );
  });
});
