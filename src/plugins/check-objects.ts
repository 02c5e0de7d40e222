// What `weir check` adds to the snapshot build's problems: services and plugin_metadata rows, which the build only
// meets through the routes using them (a service no route names is never compiled, and metadata is read as is).
// Each row is validated as the Admin API would validate it, and each service's plugins are compiled on their own,
// so an error names the object it is in ("services/edge: ...", "plugin_metadata/syslog: ...").

import { validatePluginMetadata, validateService } from '../schema/index';
import type { Snapshot } from '../snapshot/types';
import type { StoreContents } from '../store/types';
import type { FilterCompiler } from './compile';

/**
 * Problems of the services and plugin_metadata rows of `contents`, each prefixed with its object, in id order.
 * `snapshot` is the one built from the same contents (its upstreams and SSL objects). Runs once per check.
 */
export function checkPluginObjects(contents: StoreContents, snapshot: Snapshot, compiler: FilterCompiler, trustedCa: string | null): string[] {
  const problems: string[] = [];
  const byId = <T extends { id: string }>(rows: readonly T[]): T[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const row of byId(contents.services ?? [])) {
    const name = `services/${row.id}`;
    // not-enabled plugins are skipped as on routes; compiling names them
    const valid = validateService(row.value, { plugins: compiler.plugins, skipUnknown: true });
    if (!valid.ok) {
      problems.push(`${name}: ${valid.message}`);
      continue;
    }
    const upstreamId = row.value.upstream_id;
    if (upstreamId !== undefined && upstreamId !== null && !snapshot.upstreams.has(`/apisix/upstreams/${String(upstreamId)}`)) {
      problems.push(`${name}: upstream ${String(upstreamId)} not found`);
    }
    compiler.compile(row.value, row, `/apisix/${name}`, { upstreams: snapshot.upstreams, ssls: snapshot.ssls, trustedCa, problems });
  }
  for (const row of byId(contents.pluginMetadata ?? [])) {
    const valid = validatePluginMetadata(row.id, row.value);
    if (!valid.ok) problems.push(`plugin_metadata/${row.id}: ${valid.message}`);
  }
  return problems;
}
