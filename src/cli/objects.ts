// `weir stream_routes|upstreams|ssls|services|plugin_metadata list|get|put|delete`: the Admin API's object operations run directly on
// the SQLite file, with the same validation, envelopes and error messages. Output is the Admin API's JSON.

import { getObject, listObjects, type ObjectResult } from '../objects/index';
import { runResourceCall } from '../admin/resource-call';
import { RuleCache } from '../inspect/rules';
import { ObjectError } from '../objects/errors';
import type { Store } from '../store/types';
import { pluginSetOf, type PluginSet } from '../plugins/registry';
import type { Command } from './args';
import { CliError, loadCliConfig, readArgument, resolveDbPath, withStore, type CliIo } from './context';
import { guardFleetWrite } from './fleet-guard';

type ObjectCommand = Extract<Command, { name: 'object' }>;

/** The Admin API's 400 for a body that is not JSON, so scripts see one wording whichever way they write. */
function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ObjectError(400, { error_msg: `invalid request body: ${(err as Error).message}` });
  }
}

/** The offline user: every object, no key (nothing to log). */
const CLI_USER = { name: 'cli', role: 'admin', scope: null } as const;

/** Writes run as the Admin API runs them (dry runs, shadow warnings included), reads directly. */
function runVerb(store: Store, cmd: ObjectCommand, body: unknown, plugins: PluginSet): ObjectResult {
  switch (cmd.verb) {
    case 'list':
      return listObjects(store, cmd.res);
    case 'get':
      return getObject(store, cmd.res, cmd.id!);
    case 'put':
    case 'delete': {
      const query = new URLSearchParams();
      if (cmd.dryRun) query.set('dry_run', 'true');
      if (cmd.force && cmd.verb === 'delete') query.set('force', 'true');
      const call = { res: cmd.res, method: cmd.verb === 'put' ? 'PUT' : 'DELETE', id: cmd.id, subPath: '', query, body };
      return runResourceCall({ ops: { store, plugins }, rules: new RuleCache(), live: null, audit: false }, call, CLI_USER);
    }
  }
}

/**
 * Map an ObjectError to the CLI's exit codes: a refused request (400) is bad input (2); a missing object
 * (404) or a failing store (503) is a runtime condition (1). The message is the Admin API's.
 */
export function objectErrorToCli(err: ObjectError, what: string): CliError {
  const body = err.body;
  const text = typeof body === 'string' ? body : String(body.error_msg ?? body.message ?? err.message);
  return new CliError(err.status === 400 ? 2 : 1, `${what}: ${text}`);
}

/** Run one object command. Prints the JSON envelope on success; throws CliError otherwise. */
export async function runObjectCommand(cmd: ObjectCommand, io: CliIo): Promise<void> {
  const config = loadCliConfig(cmd, io);
  const path = resolveDbPath(cmd, config);
  const body = cmd.body === undefined ? undefined : parseBodySafe(await readArgument(cmd.body, io), cmd);
  const writes = (cmd.verb === 'put' || cmd.verb === 'delete') && !cmd.dryRun;
  const what = cmd.id === undefined ? `${cmd.res} ${cmd.verb}` : `${cmd.res} ${cmd.verb} ${cmd.id}`;
  if (writes) guardFleetWrite(config, cmd.force, what, io);
  const result = await withStore(path, config, writes, (store) => {
    try {
      return runVerb(store, cmd, body, pluginSetOf(config));
    } catch (err) {
      if (err instanceof ObjectError) throw objectErrorToCli(err, what);
      throw err;
    }
  });
  io.out(`${JSON.stringify(result.body, null, 2)}\n`);
}

function parseBodySafe(text: string, cmd: ObjectCommand): unknown {
  try {
    return parseBody(text);
  } catch (err) {
    throw objectErrorToCli(err as ObjectError, `${cmd.res} ${cmd.verb}`);
  }
}
