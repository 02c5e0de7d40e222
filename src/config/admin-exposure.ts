// The one refusal that protects an Admin API reachable from the network: an admin_key item whose key is empty or
// is the key published in APISIX's documentation (CVE-2020-13945: scanners pull configs and add routes with it).
// On a loopback admin_listen both are fine (the doc examples run there). Runs once at start, on the raw YAML.

import { ConfigError } from './types';
import { isMap } from './read';

/** The admin key every APISIX example uses. */
export const PUBLISHED_ADMIN_KEY = 'edd1c9f034335f136f87ad84b625c8f1';

/** 127.0.0.0/8 or ::1 (host is already canonical). */
export function isLoopbackHost(host: string): boolean {
  return host === '::1' || /^127\./.test(host);
}

/**
 * Throw ConfigError (exit 2) naming deployment.admin.admin_key[i].key when the Admin API listens beyond loopback
 * and an item's key is empty, missing, or the published one. `rawKeys` is deployment.admin.admin_key as written.
 */
export function checkAdminExposure(rawKeys: unknown, listenHost: string, enableAdmin: boolean): void {
  if (!enableAdmin || isLoopbackHost(listenHost) || !Array.isArray(rawKeys)) return;
  rawKeys.forEach((item, i) => {
    if (!isMap(item)) return; // the key reader reports the shape
    const key = item.key;
    const empty = key === undefined || key === null || key === '';
    if (!empty && key !== PUBLISHED_ADMIN_KEY) return;
    const what = empty ? 'is empty' : "is the key published in APISIX's documentation";
    throw new ConfigError(
      `deployment.admin.admin_key[${i}].key`,
      `${what}, and the Admin API listens on ${JSON.stringify(listenHost)} (deployment.admin.admin_listen.ip): ` +
        'anyone who reaches that address could change the proxy; set a long random key, or listen on 127.0.0.1',
    );
  });
}
