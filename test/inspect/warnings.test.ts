// Shadow warnings in the error log: each once, again only after it went away and came back; scope filtering.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ShadowLog, allWarnings, visibleWarnings } from '../../src/inspect/warnings';
import { namedRules } from '../proxy/match/rules';

describe('ShadowLog', () => {
  it('logs each warning once', () => {
    const lines: string[] = [];
    const log = new ShadowLog((message, fields) => lines.push(`${message} ${fields.route}<${fields.shadowed_by}`));
    const shadowed = allWarnings(namedRules([['1', { server_port: 9100 }], ['2', { server_port: 9100 }]]));
    log.report(shadowed);
    log.report(shadowed);
    assert.deepEqual(lines, ['stream route is shadowed 2<1']);
    log.report([]);
    log.report(shadowed);
    assert.deepEqual(lines, ['stream route is shadowed 2<1', 'stream route is shadowed 2<1']);
  });

  it('check() runs once a burst of changes settles', async () => {
    const lines: string[] = [];
    const log = new ShadowLog((message) => lines.push(message));
    let reads = 0;
    const rules = () => (reads++, namedRules([['1', {}], ['2', {}]]));
    for (let i = 0; i < 5; i++) log.check(rules);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual([reads, lines.length], [1, 1]);
    log.stop();
  });

  it('a scoped caller sees warnings whose routes it all sees', () => {
    const w = allWarnings(namedRules([['a-1', { server_port: 1 }], ['b-1', { server_port: 1 }], ['a-2', { server_port: 1 }]]));
    assert.deepEqual(visibleWarnings(w, (id) => id.startsWith('a-')).map((x) => x.route), ['a-2']);
    assert.deepEqual(visibleWarnings(w).map((x) => x.route), ['a-2', 'b-1']);
  });
});
