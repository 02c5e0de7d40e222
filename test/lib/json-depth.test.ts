// Nesting depth of parsed JSON, measured without recursion.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../src/lib/json-depth';

const nest = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));

describe('nestsDeeperThan', () => {
  it('counts arrays and objects, not scalars', () => {
    assert.equal(nestsDeeperThan(1, 0), false);
    assert.equal(nestsDeeperThan({ a: { b: [1] } }, 3), false);
    assert.equal(nestsDeeperThan({ a: { b: [1] } }, 2), true);
    assert.equal(nestsDeeperThan(nest(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
    assert.equal(nestsDeeperThan(nest(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
  });

  it('measures 100,000 levels without overflowing the stack', () => {
    assert.equal(nestsDeeperThan(JSON.parse('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)), MAX_JSON_DEPTH), true);
  });
});
