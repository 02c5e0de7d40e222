// OverlayMap: reads, sizes and iteration equal a plain Map's after any sequence of changes, older versions
// stay as they were, and a grown overlay is folded into a new base.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayMap } from '../../src/snapshot/overlay-map';
import { prng } from '../helpers/random';

const sorted = (m: ReadonlyMap<string, number>): Array<[string, number]> => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('OverlayMap', () => {
  it('reads like a Map; with() leaves the older version as it was', () => {
    const a = OverlayMap.empty<string, number>().with(new Map([['x', 1], ['y', 2]]));
    const b = a.with(new Map<string, number | undefined>([['x', undefined], ['z', 3], ['nope', undefined]]));
    assert.deepEqual([b.size, b.get('x'), b.has('x'), b.get('y'), b.get('z'), b.has('nope')], [2, undefined, false, 2, 3, false]);
    assert.deepEqual([...b], [['y', 2], ['z', 3]]);
    assert.deepEqual([...b.keys()], ['y', 'z']);
    assert.deepEqual([...b.values()], [2, 3]);
    assert.deepEqual([...a], [['x', 1], ['y', 2]]);
    assert.equal(a.with(new Map()), a);
    const seen: string[] = [];
    b.forEach((v, k, m) => seen.push(`${k}=${v}:${m === b}`));
    assert.deepEqual(seen, ['y=2:true', 'z=3:true']);
  });

  it('a full build goes into one base, in insertion order', () => {
    const entries = Array.from({ length: 200 }, (_, i) => [`k${i}`, i] as [string, number]);
    const m = OverlayMap.empty<string, number>().with(new Map(entries));
    assert.deepEqual([...m], entries);
  });

  it('equals a plain Map over random changes, folding as the overlay grows; every version stays intact', () => {
    const rnd = prng(7);
    let m = OverlayMap.empty<string, number>();
    const plain = new Map<string, number>();
    const versions: Array<[OverlayMap<string, number>, Array<[string, number]>]> = [];
    for (let step = 0; step < 400; step++) {
      const changes = new Map<string, number | undefined>();
      const n = step === 0 ? 300 : 1 + Math.floor(rnd() * 5);
      for (let i = 0; i < n; i++) {
        const key = `k${Math.floor(rnd() * 400)}`;
        const value = rnd() < 0.25 ? undefined : step * 10 + i;
        changes.set(key, value);
      }
      for (const [k, v] of changes) {
        if (v === undefined) plain.delete(k);
        else plain.set(k, v);
      }
      m = m.with(changes);
      assert.equal(m.size, plain.size, `size, step ${step}`);
      assert.deepEqual(sorted(m), sorted(plain), `entries, step ${step}`);
      for (const k of ['k0', 'k1', 'k399', 'k7']) assert.equal(m.get(k), plain.get(k));
      if (step % 50 === 0) versions.push([m, sorted(m)]);
    }
    for (const [version, entries] of versions) assert.deepEqual(sorted(version), entries);
  });
});
