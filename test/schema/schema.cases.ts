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

/**
 * APISIX's nested wording for a dotted path: `field('timeout.connect', why)` is
 * `invalid configuration: property "timeout" validation failed: property "connect" validation failed: why`,
 * and `[n]` is `failed to validate item n+1: ...`.
 */
export function field(path: string, why: string): string {
  const steps = path.match(/[^.[\]]+|\[\d+\]/g) ?? [];
  const nested = steps.reduceRight((inner, step) => (step.startsWith('[')
    ? `failed to validate item ${Number(step.slice(1, -1)) + 1}: ${inner}`
    : `property "${step}" validation failed: ${inner}`), why);
  return `invalid configuration: ${nested}`;
}

/** A label (or other pattern-keyed) value: `failed to validate <key> (matching ".*"): <why>` under `path`. */
export function patternField(path: string, key: string, why: string): string {
  return field(path, `failed to validate ${key} (matching ".*"): ${why}`);
}

/** APISIX's host pattern as jsonschema quotes it in messages (Lua %q: each backslash doubled). */
export const HOST_PAT_Q = String.raw`"^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$"`;
