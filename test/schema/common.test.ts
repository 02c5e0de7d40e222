// Helpers behind every schema: JSON typing, character counting (APISIX counts characters), clipping, paths.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { charLength, clip, formatPath, isPlainObject, jsonType } from '../../src/schema/common';
import { validateStreamRoute } from '../../src/schema/index';

describe('schema common helpers', () => {
  it('isPlainObject accepts JSON objects only', () => {
    assert.deepEqual([{}, Object.create(null), [], null, 'x', 1, new Date(0), new Map()].map(isPlainObject),
      [true, true, false, false, false, false, false, false]);
  });

  it('jsonType names JSON types the way jsonschema does', () => {
    assert.deepEqual([null, [], {}, 'x', 1, 1.5, true].map(jsonType), ['null', 'array', 'object', 'string', 'number', 'number', 'boolean']);
  });

  it('charLength counts code points, not UTF-16 units', () => {
    assert.equal(charLength(''), 0);
    assert.equal(charLength('abc'), 3);
    assert.equal(charLength('\u{1F600}\u{1F600}'), 2);
    assert.equal(charLength('é'), 1);
  });

  it('name limits count characters: 256 emoji pass, 257 fail', () => {
    assert.equal(validateStreamRoute({ name: '\u{1F600}'.repeat(256) }).ok, true);
    assert.deepEqual(validateStreamRoute({ name: '\u{1F600}'.repeat(257) }), {
      ok: false, message: 'invalid configuration: property "name" validation failed: string too long, expected at most 256, got 257',
    });
  });

  it('clip keeps short text and cuts long text at 200 characters', () => {
    assert.equal(clip('abc'), 'abc');
    assert.equal(clip('x'.repeat(200)), 'x'.repeat(200));
    assert.equal(clip('x'.repeat(201)), `${'x'.repeat(200)}...`);
  });

  it('formatPath joins keys with dots and puts array positions in brackets', () => {
    assert.equal(formatPath([]), '');
    assert.equal(formatPath([{ key: 'upstream' }, { key: 'nodes' }, { key: 0 }, { key: 'port' }]), 'upstream.nodes[0].port');
    assert.equal(formatPath([{ key: 'snis' }, { key: 3 }]), 'snis[3]');
  });
});
