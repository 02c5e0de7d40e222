// The offline CLI on a fleet data plane: its objects come from etcd, so a local write is refused unless
// --force, and even then it lasts only until the next full resync.

import type { Config } from '../config/types';
import { CliError, type CliIo } from './context';

/**
 * Runs before any offline write. Throws CliError (exit 2) on a data plane without --force; with --force,
 * warns on stderr and lets the write through.
 */
export function guardFleetWrite(config: Config, force: boolean, what: string, io: CliIo): void {
  if (config.fleet?.role !== 'data_plane') return;
  const why = `configuration is managed by etcd (deployment.role: data_plane); the next full resync from etcd overwrites local changes`;
  if (!force) throw new CliError(2, `${what}: ${why}. Change it through the control plane or etcd, or pass --force`);
  io.err(`warning: ${what}: ${why}\n`);
}
