// `weir export`: every stored object as YAML in APISIX's standalone layout (stream_routes:, upstreams:, ssls:,
// services:, plugin_metadata:, then weir's stream_listeners: when there are any; closed by #END), exactly as stored (ids, timestamps, private keys), so `weir import` gives the same rows back.

import { stringify } from 'yaml';
import { RESOURCES, type Resource, type StoreContents } from '../store/types';
import type { Command } from './args';
import { loadCliConfig, resolveDbPath, withStore, type CliIo } from './context';

type ExportCommand = Extract<Command, { name: 'export' }>;

const FIELD: Record<Resource, 'streamRoutes' | 'upstreams' | 'ssls' | 'services' | 'pluginMetadata' | 'streamListeners'> = {
  stream_routes: 'streamRoutes',
  upstreams: 'upstreams',
  ssls: 'ssls',
  services: 'services',
  plugin_metadata: 'pluginMetadata',
  stream_listeners: 'streamListeners',
};

/** weir's own resources appear only when they hold objects, so an export without them stays APISIX's layout. */
const OWN_RESOURCES: ReadonlySet<Resource> = new Set(['stream_listeners']);

/** The export text for one consistent read of the store (pure). */
export function renderExport(contents: StoreContents, dbPath: string): string {
  const doc: Record<string, unknown[]> = {};
  for (const res of RESOURCES) {
    const rows = contents[FIELD[res]] ?? [];
    if (rows.length > 0 || !OWN_RESOURCES.has(res)) doc[res] = rows.map((obj) => obj.value);
  }
  // lineWidth 0: never fold long strings (PEM bodies, regexes) - folding is lossless but hard to diff.
  const body = stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
  return `# weir export of ${dbPath} at store revision ${contents.revision}\n${body}#END\n`;
}

/** Print the export; rows that cannot be read are named on stderr and left out (they could not be imported). */
export async function runExport(cmd: ExportCommand, io: CliIo): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const path = resolveDbPath(cmd, config);
  const contents = await withStore(path, config, false, (store) => store.readAll());
  for (const why of contents.unreadable) io.err(`weir: warning: not exported: ${why.message}\n`);
  io.out(renderExport(contents, path));
}
