// Shared pieces of the plugin tests: a conf's verdict through a route (APISIX's full message), and a compile
// context backed by plain maps.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/lib/json';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import type { PluginCompileContext } from '../../src/plugins/types';
import { validateStreamRoute } from '../../src/schema/index';
import type { CompiledUpstream } from '../../src/snapshot/types';

/** [label, conf, expected message after "failed to check the configuration of stream plugin [name]: ", or null] */
export type ConfRow = [string, unknown, string | null];

/** One `it` per row: the conf on a route, as the Admin API checks it. */
export function runConfTable(plugin: string, rows: readonly ConfRow[]): void {
  for (const [label, conf, expected] of rows) {
    it(label, () => {
      const r = validateStreamRoute({ plugins: { [plugin]: conf } });
      if (expected === null) assert.deepEqual(r, { ok: true, value: { plugins: { [plugin]: conf } } });
      else assert.deepEqual(r, { ok: false, message: `failed to check the configuration of stream plugin [${plugin}]: ${expected}` });
    });
  }
}

export interface TestContext extends PluginCompileContext {
  problems: string[];
  counters: LocalConnCounters;
}

/** A compile context for route 1, with the given upstream objects by id. */
export function testContext(upstreams: Record<string, CompiledUpstream> = {}, route: JsonObject = {}): TestContext {
  const problems: string[] = [];
  return {
    routeKey: '/apisix/stream_routes/1',
    routeId: '1',
    route,
    upstreamById: (id) => upstreams[id] ?? null,
    compileUpstream: () => null,
    metadata: () => null,
    attr: () => null,
    counters: new LocalConnCounters(),
    metrics: null,
    problem: (m) => void problems.push(m),
    problems,
  };
}
