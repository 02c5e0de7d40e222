// `weir import FILE [--dry-run] [--merge]`: validate the whole file, then apply every change in ONE write
// transaction (references checked inside it, as the Admin API does). A dry run does the same and rolls back.

import { readFileSync } from 'node:fs';
import { checkReferences } from '../objects/references';
import { pluginSetOf } from '../plugins/registry';
import { ObjectError } from '../objects/errors';
import { RESOURCES, type Resource, type Store } from '../store/types';
import type { Command } from './args';
import { CliError, loadCliConfig, resolveDbPath, withStore, type CliIo } from './context';
import { guardFleetWrite } from './fleet-guard';
import { parseImport, planImport, renderDiff, summarize, type Change, type ImportPlan } from './import-plan';

type ImportCommand = Extract<Command, { name: 'import' }>;

/** Thrown inside the transaction to roll a dry run back after every check has run. */
class DryRunRollback extends Error {}

function failAll(file: string, errors: string[]): CliError {
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new CliError(2, `import ${file}: ${errors[0]}${more}`);
}

/**
 * Deletes first (routes before the services and upstreams they use), then the rest: referenced objects exist
 * first; [weir] listeners last.
 */
const WRITE_ORDER: readonly Resource[] = ['ssls', 'upstreams', 'services', 'stream_routes', 'plugin_metadata', 'stream_listeners'];

function applyPlan(store: Store, plan: ImportPlan): string[] {
  const errors: string[] = [];
  const removes = plan.changes.filter((c) => c.op === 'remove');
  for (const res of [...WRITE_ORDER].reverse()) {
    for (const c of removes) if (c.res === res) store.delete(res, c.id);
  }
  for (const res of WRITE_ORDER) {
    for (const c of plan.changes) {
      if (c.res !== res || c.op === 'remove') continue;
      store.put(res, c.id, c.value!);
    }
  }
  // References are checked once everything is written, so their order in the file does not matter.
  for (const c of plan.changes) {
    if (c.op === 'remove') continue;
    try {
      checkReferences(store, c.res, c.value!);
    } catch (err) {
      if (!(err instanceof ObjectError)) throw err;
      errors.push(`${c.res} "${c.id}": ${err.message}`);
    }
  }
  // Unchanged routes and services may point at an upstream or a service this import removes.
  for (const c of removes) {
    if (c.res === 'upstreams') {
      const user = store.upstreamUsers(c.id)[0];
      if (user !== undefined) errors.push(`upstreams "${c.id}": removed but ${user.res === 'services' ? 'service' : 'stream_route'} [${user.id}] still uses it`);
    } else if (c.res === 'services') {
      const users = store.routesUsingService(c.id);
      if (users.length > 0) errors.push(`services "${c.id}": removed but stream_route [${users[0]}] still uses it`);
    }
  }
  return errors;
}

function readImportFile(file: string, io: CliIo): Promise<string> | string {
  if (file === '-') return io.readStdin();
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(2, `import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Run an import; prints the diff (dry run) or a summary. Nothing is written unless every check passes. */
export async function runImport(cmd: ImportCommand, io: CliIo, now = () => Math.floor(Date.now() / 1000)): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const path = resolveDbPath(cmd, config);
  const { objects, errors } = parseImport(await readImportFile(cmd.file, io), pluginSetOf(config));
  if (errors.length > 0) throw failAll(cmd.file, errors);
  if (!cmd.dryRun) guardFleetWrite(config, cmd.force, 'import', io);

  const plan = await withStore(path, config, !cmd.dryRun, (store) => {
    let planned: ImportPlan | null = null;
    try {
      store.transaction(() => {
        const current = Object.fromEntries(RESOURCES.map((r) => [r, store.list(r)])) as Parameters<typeof planImport>[1];
        planned = planImport(objects, current, { merge: cmd.merge, now: now() });
        const refErrors = applyPlan(store, planned);
        if (refErrors.length > 0) throw failAll(cmd.file, refErrors);
        if (cmd.dryRun) throw new DryRunRollback();
      });
    } catch (err) {
      if (!(err instanceof DryRunRollback)) {
        if (err instanceof CliError) throw err;
        throw new CliError(1, `import ${cmd.file}: ${(err as Error).message} (nothing was written)`);
      }
    }
    return planned! as ImportPlan;
  });

  if (cmd.dryRun) {
    io.out(renderDiff(plan));
    io.out(`import ${cmd.file}: ${summarize(plan, 'plan')} (dry run, nothing written)\n`);
  } else {
    io.out(`import ${cmd.file}: ${summarize(plan, 'done')}\n`);
  }
}

export type { Change };
