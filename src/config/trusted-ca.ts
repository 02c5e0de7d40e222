// apisix.ssl.ssl_trusted_certificate -> the CA bundle upstream `tls.verify: true` checks node certificates
// against. Runs once at start (reads files); a missing file or a PEM that does not parse stops start-up
// with a ConfigError naming the key, like any other config error.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type tlsTypes from 'node:tls';
import { nodeBuiltin } from '../runtime/builtin';
import { ConfigError } from './types';
import { checkCaBundle } from '../schema/pem';

const KEY = 'apisix.ssl.ssl_trusted_certificate';

/**
 * APISIX's value: "system" (the default: the runtime's built-in roots) or comma-separated entries, each
 * "system" or a PEM file path (relative to `baseDir`). Returns the PEM text to trust, or null for
 * "system" alone (the runtime's defaults, no bundle of our own). Listing a file without "system"
 * trusts only that file, as in APISIX.
 */
export function loadTrustedCa(spec: string | undefined, baseDir: string = process.cwd()): string | null {
  if (spec === undefined) return null;
  const entries = spec.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === 'system')) return null;
  const parts: string[] = [];
  for (const entry of entries) {
    if (entry === 'system') {
      parts.push(nodeBuiltin<typeof tlsTypes>('node:tls').rootCertificates.join('\n'));
      continue;
    }
    const file = resolve(baseDir, entry);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(KEY, `cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const problem = checkCaBundle(text, `CA file ${JSON.stringify(entry)}`);
    if (problem !== null) throw new ConfigError(KEY, problem);
    parts.push(text.trim());
  }
  return `${parts.join('\n')}\n`;
}
