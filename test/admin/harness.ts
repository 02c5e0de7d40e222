// Admin API test harness: a temp store + createAdminApp served by serveNodeHttp on 127.0.0.1:0,
// and a small fetch wrapper that returns status, headers and the parsed body.

import { createAdminApp, type AdminAppOptions } from '../../src/admin/app';
import { MAX_BODY_BYTES } from '../../src/admin/respond';
import type { AdminKey, Config } from '../../src/config/types';
import { serveHttp as serveNodeHttp } from '../../src/runtime/index';
import type { HttpServerHandle } from '../../src/runtime/types';
import { tempStore, type TempStore } from '../objects/fixtures';

export const ADMIN_KEY = 'edd1c9f034335f136f87ad84b625c8f1';
export const VIEWER_KEY = 'viewer-key-0123456789';
export const KEYS: AdminKey[] = [
  { name: 'admin', key: ADMIN_KEY, role: 'admin' },
  { name: 'viewer', key: VIEWER_KEY, role: 'viewer' },
];

export function testConfig(admin: Partial<Config['admin']> = {}, streamEnabled = true): Config {
  return {
    source: '<test>',
    enableAdmin: true,
    streamEnabled,
    stream: { tcp: [], udp: [] },
    udp: { maxSessions: 10_000, responses: null, admission: { maxPerSource: 1000, rate: 5000, burst: 1000 }, rcvbuf: 4 * 1024 * 1024 },
    admin: {
      keyRequired: true,
      keys: KEYS,
      listen: { host: '127.0.0.1', port: 0 },
      allow: ['127.0.0.0/24'],
      cors: true,
      ...admin,
    },
    sqlite: { path: '' },
    log: { access: { enabled: false, path: null } },
    shutdownGraceMs: 1000,
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface AdminHarness {
  base: string;
  t: TempStore;
  changes(): number;
  /** Call the API; `key` defaults to the admin key (null = send none). Objects are sent as JSON. */
  call(method: string, path: string, body?: unknown, key?: string | null, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

/** `extra(store)`: more app options (e.g. `inspect` sources built over the harness's store). */
export async function startAdmin(
  config: Config = testConfig(),
  adminKeys: AdminKey[] = KEYS,
  extra?: (t: TempStore) => Partial<AdminAppOptions>,
): Promise<AdminHarness> {
  const t = tempStore('weir-admin-');
  let changes = 0;
  const app = createAdminApp({ store: t.store, config, adminKeys, onChange: () => changes++, ...extra?.(t) });
  let server: HttpServerHandle;
  try {
    server = await serveNodeHttp(app, { host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY_BYTES });
  } catch (err) {
    t.close();
    throw err;
  }
  const base = `http://127.0.0.1:${server.port}`;
  return {
    base,
    t,
    changes: () => changes,
    async call(method, path, body, key = ADMIN_KEY, headers = {}) {
      const h: Record<string, string> = { ...headers };
      if (key !== null) h['X-API-KEY'] = key;
      const init: RequestInit = { method, headers: h };
      if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await fetch(base + path, init);
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    async close() {
      await server.close();
      t.close();
    },
  };
}
