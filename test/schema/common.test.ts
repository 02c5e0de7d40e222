// Helpers behind every schema: JSON typing, character counting (APISIX counts characters), clipping, paths.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { charLength, clip, fieldError, isPlainObject, jsonType, luaQuote } from '../../src/schema/common';
import { validateStreamRoute } from '../../src/schema/index';

describe('schema common helpers', () => {
  it('isPlainObject accepts JSON objects only', () => {
    assert.deepEqual([{}, Object.create(null), [], null, 'x', 1, new Date(0), new Map()].map(isPlainObject),
      [true, true, false, false, false, false, false, false]);
  });

  it('jsonType names JSON types the way jsonschema does: Lua types of what cjson decoded', () => {
    assert.deepEqual([null, [], {}, 'x', 1, 1.5, true].map(jsonType), ['userdata', 'table', 'table', 'string', 'number', 'number', 'boolean']);
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

  it('fieldError nests one jsonschema clause per step: properties by name, items from 1', () => {
    assert.equal(fieldError([], 'x'), 'invalid configuration: x');
    assert.equal(fieldError(['upstream', 'nodes', 0, 'host'], 'bad'),
      'invalid configuration: property "upstream" validation failed: property "nodes" validation failed: ' +
      'failed to validate item 1: property "host" validation failed: bad');
  });

  it('luaQuote escapes like Lua %q: backslashes doubled, quotes escaped', () => {
    assert.equal(luaQuote(String.raw`^\S+$`), String.raw`"^\\S+$"`);
    assert.equal(luaQuote('a"b'), String.raw`"a\"b"`);
    assert.equal(luaQuote('a\nb'), '"a\\\nb"');
  });
});
