// Shared table runner for the schema tests: each row is a body and the exact expected outcome.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { SchemaResult } from '../../src/schema/index';

/** [label, body, expected message or null for valid] */
export type Row = [string, unknown, string | null];

/** One `it` per row; a valid row also asserts the body comes back untouched (same object, no defaults). */
export function runTable(validate: (body: unknown) => SchemaResult, rows: readonly Row[]): void {
  for (const [label, body, expected] of rows) {
    it(label, () => {
      const before = JSON.stringify(body);
      const result = validate(body);
      if (expected === null) {
        assert.deepEqual(result, { ok: true, value: body });
        if (result.ok) assert.equal(result.value, body);
      } else {
        assert.deepEqual(result, { ok: false, message: expected });
      }
      assert.equal(JSON.stringify(body), before, 'validation must not modify the body');
    });
  }
}

/** Placeholder PEM-ish text of an exact length (shape checks only count characters). */
export function pem(length: number): string {
  return 'P'.repeat(length);
}

/** `invalid configuration: property "<path>" validation failed: <why>` */
export function field(path: string, why: string): string {
  return `invalid configuration: property "${path}" validation failed: ${why}`;
}
