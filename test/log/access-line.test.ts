// The access log's hand-encoded JSON line must be byte for byte what JSON.stringify gives for the same record.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineEncoder, formatAccessLine } from '../../src/log/access-line';
import type { AccessRecord } from '../../src/log/logger';
import { base } from './records';


/** The reference: the generic serializer with the line's own time. */
function reference(line: string, record: AccessRecord): string {
  const time = (JSON.parse(line) as { time: string }).time;
  return JSON.stringify({ time, ...record }) + '\n';
}

describe('formatAccessLine', () => {
  const cases: Array<[string, AccessRecord]> = [
    ['a plain TCP record', base],
    ['no route, no upstream', { ...base, route: null, upstream: null, end: 'no_route' }],
    ['an error with quotes, backslashes, control and non-ASCII characters', { ...base, end: 'upstream_error', error: 'read "x" \\ failed\n\ttab \u00e9 \u2028 \ud83d\ude00 lone \ud800' }],
    ['an undefined error field is left out', { ...base, error: undefined }],
    ['UDP datagram counts in their place', { ...base, protocol: 'udp', datagrams_from_client: 2, datagrams_to_client: 1, end: 'responses' }],
    ['a route id that needs escaping', { ...base, route: 'r"1' }],
  ];
  for (const [name, record] of cases) {
    it(`writes ${name} exactly as JSON.stringify does`, () => {
      const line = formatAccessLine(record);
      assert.equal(line, reference(line, record));
    });
  }

  it('writes a non-finite number as null, as JSON does', () => {
    const line = formatAccessLine({ ...base, duration_ms: Number.NaN });
    assert.equal((JSON.parse(line) as { duration_ms: unknown }).duration_ms, null);
  });

  it('writes numbers as JSON does: large, negative and fractional ones too', () => {
    for (const n of [0, 9, 10, 1234567890123, Number.MAX_SAFE_INTEGER, 2 ** 60, -5, 1.5, 1e-7]) {
      const line = formatAccessLine({ ...base, bytes_to_client: n });
      assert.equal(line, reference(line, { ...base, bytes_to_client: n }), String(n));
    }
  });

  it('stamps the current time in ISO form', () => {
    const before = Date.now();
    const time = Date.parse((JSON.parse(formatAccessLine(base)) as { time: string }).time);
    assert.ok(time >= before && time <= Date.now(), `time ${time} outside [${before}, ${Date.now()}]`);
  });
});

describe('LineEncoder', () => {
  it('keeps whole lines in order and grows for a line longer than its buffer', () => {
    const enc = new LineEncoder(64);
    const long = 'x'.repeat(100_000);
    enc.writeRecord(base);
    enc.writeRecord({ ...base, end: 'client_error', error: long });
    enc.writeRecord({ ...base, route: '3' });
    const lines = enc.take().toString('utf8').split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[3], '');
    assert.deepEqual(lines.slice(0, 3).map((l) => (JSON.parse(l) as AccessRecord).route), ['1', '1', '3']);
    assert.equal((JSON.parse(lines[1]!) as AccessRecord).error, long);
    assert.equal(enc.len, 0);
  });
});
