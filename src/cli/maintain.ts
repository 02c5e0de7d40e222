// `weir migrate` (bring the file to this build's schema) and `weir check` (is the config valid, and would
// every stored object be served?). Both reuse the start-up code paths: loadConfig, applyMigrations, buildSnapshot
// (which compiles every route's plugin chain); check also validates services and plugin_metadata on their own.

import { existsSync } from 'node:fs';
import { MIGRATIONS } from '../embedded.gen';
import { openSqlite } from '../runtime/index';
import { applyMigrations, readSchemaVersion } from '../store/migrate';
import { applyConnectionPragmas } from '../store/pragmas';
import { snapshotRules } from '../inspect/rules';
import { allWarnings } from '../inspect/warnings';
import { buildServedSnapshot } from '../plugins/snapshot';
import { FilterCompiler } from '../plugins/compile';
import { checkPluginObjects } from '../plugins/check-objects';
import { LocalConnCounters } from '../plugins/conn-counters';
import { pluginSetOf } from '../plugins/registry';
import { desiredListeners } from '../control/listener-specs';
import { ConfigError, type Config } from '../config/types';
import { loadTrustedCa } from '../config/trusted-ca';
import type { Command } from './args';
import { CliError, loadCliConfig, resolveDbPath, withStore, type CliIo } from './context';

type MigrateCommand = Extract<Command, { name: 'migrate' }>;
type CheckCommand = Extract<Command, { name: 'check' }>;

/** Create or upgrade the database file; prints `PATH: schema version A -> B`. */
export async function runMigrate(cmd: MigrateCommand, io: CliIo): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const path = resolveDbPath(cmd, config);
  let db;
  try {
    db = applyConnectionPragmas(openSqlite(path));
  } catch (err) {
    throw new CliError(1, `cannot open database ${path}: ${(err as Error).message}`);
  }
  try {
    const result = applyMigrations(db, MIGRATIONS, path);
    const applied = result.applied.length > 0 ? ` (applied ${result.applied.join(', ')})` : ' (up to date)';
    io.out(`${path}: schema version ${result.from} -> ${result.to}${applied}\n`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CliError(code === 'ERR_DB_TOO_NEW' ? 2 : 1, (err as Error).message);
  } finally {
    db.close();
  }
}

/**
 * Check the config and every stored object. Problems (one per line on stderr, the same lines the proxy logs)
 * make the exit code 2. A database that does not exist yet is fine: `start` creates it. Never writes
 * anything, not even a migration.
 */
export async function runCheck(cmd: CheckCommand, io: CliIo): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const trustedCa = loadCheckedTrustedCa(config);
  const path = resolveDbPath(cmd, config);
  if (!existsSync(path)) {
    io.out(`config ${config.source}: ok; database ${path} does not exist yet (created on start)\n`);
    return;
  }
  const version = (() => {
    const db = applyConnectionPragmas(openSqlite(path));
    try {
      return readSchemaVersion(db);
    } finally {
      db.close();
    }
  })();
  if (version > MIGRATIONS.length) {
    throw new CliError(2, `${path} is at schema version ${version} but this weir knows up to ${MIGRATIONS.length}; use a newer weir`);
  }
  if (version < MIGRATIONS.length) {
    throw new CliError(1, `${path} is at schema version ${version}, older than ${MIGRATIONS.length}: run \`weir migrate\` first`);
  }
  const contents = await withStore(path, config, false, (store) => store.readAll());
  const compiler = new FilterCompiler(pluginSetOf(config), new LocalConnCounters(), config.pluginAttr);
  const built = buildServedSnapshot(contents, null, compiler, { trustedCa });
  const snapshot = built.snapshot;
  // [weir] listener objects the proxy would skip: invalid, or an address the config or another object lists;
  // services (used or not) and plugin_metadata on their own, so a problem names the object it is in
  const listeners = desiredListeners(config, contents.streamListeners ?? []).skipped;
  const problems = [
    ...built.problems,
    ...listeners.map((s) => `stream_listeners/${s.id}: skipped: ${s.problem}`),
    ...checkPluginObjects(contents, snapshot, compiler, trustedCa),
  ];
  await compiler.dispose(0);
  const total = contents.streamRoutes.length + contents.upstreams.length + contents.ssls.length +
    (contents.services?.length ?? 0) + (contents.pluginMetadata?.length ?? 0) + (contents.streamListeners?.length ?? 0);
  // shadowed routes are warnings: the file is valid, but those routes can never match
  const warnings = allWarnings(snapshotRules(snapshot));
  for (const w of warnings) io.err(`weir: warning: stream_routes/${w.route}: ${w.message}\n`);
  if (problems.length > 0) {
    for (const problem of problems) io.err(`weir: ${problem}\n`);
    throw new CliError(2, `check: ${problems.length} problem(s) in ${path}`);
  }
  io.out(
    `config ${config.source}: ok; database ${path}: ${total} objects ok, ${snapshot.routes.length} stream routes served (revision ${contents.revision})` +
      `${warnings.length > 0 ? `; ${warnings.length} shadowed (see the warnings)` : ''}\n`,
  );
}

/** The CA bundle `start` would load: a missing or broken file is a config error here too (exit 2). */
function loadCheckedTrustedCa(config: Config): string | null {
  try {
    return loadTrustedCa(config.tls?.trustedCertificate);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(2, `config error: ${err.message}`);
    throw err;
  }
}
