// src/embedded.gen.ts must match migrations/, conf/config.yaml and package.json: the bundle carries only it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EMBEDDED_PATH, renderEmbedded } from '../build';
import { MIGRATIONS, VERSION } from '../src/embedded.gen';

describe('embedded.gen.ts', () => {
  it('is up to date (run `npm run gen` after changing a migration, the default config or the version)', () => {
    assert.equal(readFileSync(EMBEDDED_PATH, 'utf8'), renderEmbedded());
  });

  it('numbers migrations 1..n without gaps', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.ok(MIGRATIONS.length >= 1);
  });

  it('carries the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
