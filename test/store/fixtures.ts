// Shared test bodies and a temp-dir store for the store and admin tests. The PEM texts only have the
// lengths the schema asks for; they are not real certificates (no test here does TLS).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store';
import type { Store } from '../../src/store/types';

export const UPSTREAM = { nodes: { '127.0.0.1:1995': 1 }, type: 'roundrobin' };

export const FAKE_CERT = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(200)}\n-----END CERTIFICATE-----\n`;
export const FAKE_KEY = `-----BEGIN PRIVATE KEY-----\n${'B'.repeat(120)}\n-----END PRIVATE KEY-----\n`;

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
