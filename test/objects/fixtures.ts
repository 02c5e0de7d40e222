// Shared test bodies and a temp-dir store for the object operation and admin tests. The PEM texts are the real
// fixtures of test/fixtures/tls, because SSL validation parses them and checks that key and cert match.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectError } from '../../src/objects/errors';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';
import { pem as tlsPem } from '../tls/fixtures';

export const UPSTREAM = { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' };

// Real PEM (test/fixtures/tls): SSL validation parses it and checks the key matches (issue 4).
export const FAKE_CERT = tlsPem.a.cert;
export const FAKE_KEY = tlsPem.a.key;

export const SERVER_SSL = { sni: 'test.com', cert: FAKE_CERT, key: FAKE_KEY };
export const CLIENT_SSL = { type: 'client', cert: FAKE_CERT, key: FAKE_KEY };

export interface TempStore {
  store: Store;
  dir: string;
  path: string;
  close(): void;
}

/** A fresh store in its own temp directory; close() closes it and removes the directory. */
export function tempStore(prefix = 'weir-objects-'): TempStore {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'weir.db');
  const store = openStore(path);
  return {
    store,
    dir,
    path,
    close: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run fn, expecting an ObjectError; return [status, body] for one deepEqual. */
export function failure(fn: () => unknown): [number, unknown] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ObjectError) return [err.status, err.body];
    throw err;
  }
  assert.fail('expected an ObjectError');
}
