// SNI lookup order: exact, wildcard by longest suffix, "*", with fall-through; both wildcard modes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addSni, createSniTable, findSni, normalizeSni } from '../../../src/proxy/match/sni';

function table(spans: boolean, patterns: string[]) {
  const t = createSniTable<string>(spans);
  for (const p of patterns) addSni(t, p, p);
  return t;
}
const any = (): boolean => true;

describe('normalizeSni', () => {
  it('lowercases and drops one trailing dot', () => {
    assert.equal(normalizeSni('A.Test.Com.'), 'a.test.com');
    assert.equal(normalizeSni('x.org'), 'x.org');
  });
});

describe('findSni', () => {
  const patterns = ['*', '*.test.com', 'a.test.com', '*.b.test.com'];
  it('route mode: exact > longest wildcard suffix > shorter suffix > *', () => {
    const t = table(true, patterns);
    assert.equal(findSni(t, 'a.test.com', any, null), 'a.test.com');
    assert.equal(findSni(t, 'x.b.test.com', any, null), '*.b.test.com');
    assert.equal(findSni(t, 'x.y.b.test.com', any, null), '*.b.test.com');
    assert.equal(findSni(t, 'x.y.test.com', any, null), '*.test.com');
    assert.equal(findSni(t, 'test.com', any, null), '*');
    assert.equal(findSni(t, 'other', any, null), '*');
  });
  it('certificate mode: a wildcard covers exactly one label', () => {
    const t = table(false, patterns);
    assert.equal(findSni(t, 'b.test.com', any, null), '*.test.com');
    assert.equal(findSni(t, 'x.y.test.com', any, null), '*');
    assert.equal(findSni(table(false, ['*.test.com']), 'x.y.test.com', any, null), undefined);
  });
  it('falls through to the next less specific pattern when the filter refuses', () => {
    const t = table(true, patterns);
    const seen: string[] = [];
    const hit = findSni(t, 'a.b.test.com', (v: string, ctx: string[]) => (ctx.push(v), v === '*'), seen);
    assert.equal(hit, '*');
    assert.deepEqual(seen, ['*.b.test.com', '*.test.com', '*']);
  });
  it('keeps insertion order among values of one pattern', () => {
    const t = createSniTable<number>(true);
    addSni(t, 'a.test.com', 1);
    addSni(t, 'a.test.com', 2);
    assert.equal(findSni(t, 'a.test.com', (v: number) => v > 1, null), 2);
    assert.equal(findSni(t, 'a.test.com', any, null), 1);
  });
  it('an empty table finds nothing', () => assert.equal(findSni(createSniTable(true), 'a', any, null), undefined));
});
