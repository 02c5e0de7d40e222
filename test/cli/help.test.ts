// `weir --help` (src/cli/help.ts) names every environment variable weir reads, so none is a secret switch.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELP } from '../../src/cli/help';
import { WORKER_ENV } from '../../src/cli/workers';
import { UPGRADE_ENV } from '../../src/control/upgrade';

/** Every WEIR_* name written in src/, in order. */
function variablesInSource(): string[] {
  const names = new Set<string>();
  for (const file of readdirSync('src', { recursive: true }) as string[]) {
    if (!file.endsWith('.ts')) continue;
    for (const m of readFileSync(join('src', file), 'utf8').matchAll(/\bWEIR_[A-Z_]+\b/g)) names.add(m[0]);
  }
  return [...names].sort();
}

describe('--help', () => {
  it('documents each WEIR_* variable in src/ but the ones weir sets for its own workers and upgrades', () => {
    const documented = variablesInSource().filter((name) => name !== WORKER_ENV && name !== UPGRADE_ENV);
    assert.deepEqual(documented, ['WEIR_DATA_PLANE', 'WEIR_HTTP', 'WEIR_SQLITE', 'WEIR_TLS_PLANE', 'WEIR_TRIM_CODE']);
    for (const name of documented) assert.match(HELP, new RegExp(`\\b${name}=`), `${name} is missing from --help`);
  });

  it('shows stream_plugins and plugin_attr (the prometheus export address and path)', () => {
    assert.match(HELP, /stream_plugins/);
    assert.match(HELP, /plugin_attr\.prometheus \(export_addr \{ip, port\}, default 127\.0\.0\.1:9091;/);
    assert.match(HELP, /\/apisix\/prometheus\/metrics/);
  });
});
