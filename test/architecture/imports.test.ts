// The layering rules of the source tree, checked by reading every import (issue 12):
// proxy never imports admin, objects, store or SQL; nothing outside src/runtime/ names Bun, Deno or a SQLite
// driver; match and balance import no sockets; schema imports nothing from store, objects or admin.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Code without comments, so a comment may mention Bun or node:sqlite. Strings stay (imports are strings). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

interface Source {
  /** Path under src/, with forward slashes. */
  path: string;
  code: string;
  /** Import targets: src-relative paths for relative imports ("store/store"), else the bare specifier. */
  imports: string[];
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function readSources(): Source[] {
  return filesUnder(SRC).map((file) => {
    const code = stripComments(readFileSync(file, 'utf8'));
    const imports: string[] = [];
    for (const m of code.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      imports.push(spec.startsWith('.') ? relative(SRC, resolve(dirname(file), spec)).split('\\').join('/') : spec);
    }
    return { path: relative(SRC, file).split('\\').join('/'), code, imports };
  });
}

const sources = readSources();
const under = (prefix: string) => sources.filter((s) => s.path.startsWith(prefix));

/** "file imports target" for every import of `files` that `bad` matches. */
function violations(files: Source[], bad: (target: string) => boolean): string[] {
  return files.flatMap((s) => s.imports.filter(bad).map((t) => `${s.path} imports ${t}`));
}

const SQL_DRIVERS = ['better-sqlite3', 'node:sqlite', 'bun:sqlite'];

describe('import rules', () => {
  it('reads the tree (a rule over no files could not fail)', () => {
    assert.ok(sources.length > 100);
    assert.ok(under('proxy/').length > 20);
    assert.ok(sources.some((s) => s.imports.includes('store/store')), 'relative imports resolve to src paths');
  });

  it('proxy never imports admin, objects, store or SQL', () => {
    const bad = (t: string) => /^(admin|objects|store)(\/|$)/.test(t) || t.startsWith('runtime/sqlite') || SQL_DRIVERS.includes(t);
    assert.deepEqual(violations(under('proxy/'), bad), []);
  });

  it('nothing outside src/runtime/ names Bun, Deno or a SQLite driver', () => {
    const outside = sources.filter((s) => !s.path.startsWith('runtime/'));
    const named = outside.flatMap((s) => {
      const hits: string[] = [];
      if (/\bBun\s*\.|\bDeno\s*\.|globalThis\.(Bun|Deno)\b/.test(s.code)) hits.push(`${s.path} names the Bun or Deno global`);
      for (const t of s.imports) if (t.startsWith('bun:') || SQL_DRIVERS.includes(t)) hits.push(`${s.path} imports ${t}`);
      return hits;
    });
    assert.deepEqual(named, []);
  });

  it('match and balance import no sockets', () => {
    const bad = (t: string) => /^node:(net|dgram|tls|http|https)$/.test(t) || /^(net|dgram|tls)$/.test(t) || (t.startsWith('runtime/') && t !== 'runtime/types');
    assert.deepEqual(violations([...under('proxy/match/'), ...under('proxy/balance/')], bad), []);
  });

  it('traditional mode loads no etcd code: only start.ts imports the fleet (on demand), others its view type', () => {
    const outside = sources.filter((s) => !s.path.startsWith('fleet/'));
    const bad = violations(outside, (t) => t.startsWith('fleet/') && t !== 'fleet/view')
      .filter((v) => v !== 'cli/start.ts imports fleet/start-fleet');
    assert.deepEqual(bad, []);
    const start = sources.find((s) => s.path === 'cli/start.ts')!;
    assert.match(start.code, /await import\('\.\.\/fleet\/start-fleet'\)/);
    assert.match(start.code, /import type \{ Fleet \} from '\.\.\/fleet\/start-fleet'/);
  });

  it('schema imports nothing from store, objects or admin', () => {
    assert.deepEqual(violations(under('schema/'), (t) => /^(store|objects|admin)(\/|$)/.test(t)), []);
  });
});
