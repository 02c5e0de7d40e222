// What the offline commands share: their I/O, exit-code errors, and opening the config's SQLite file with
// the same driver, migrations and store code the proxy uses.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig } from '../config/load';
import { ConfigError, type Config } from '../config/types';
import { openStore, type Store } from '../store/store';
import { openSqlite } from '../runtime/index';
import { ensureKeyring } from '../store/keyring-file';
import { KeyringError } from '../store/keyring';
import type { Common } from './args';

/** Where a command writes and reads; process streams in main.ts, strings in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input (for `-` arguments). */
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
}

/** A failed command: exit code 1 (runtime: store busy, file missing) or 2 (bad input), one line for stderr. */
export class CliError extends Error {
  constructor(
    readonly exitCode: 1 | 2,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Load the config for an offline command; warnings go to stderr, errors become exit code 2. */
export function loadCliConfig(common: Common, io: CliIo): Config {
  try {
    const { config, warnings } = loadConfig(common.config, io.env);
    for (const warning of warnings) io.err(`weir: warning: ${warning}\n`);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(2, `config error: ${err.message}`);
    throw err;
  }
}

/** The database file: --db, else deployment.sqlite.path, resolved against the working directory (as `start` does). */
export function resolveDbPath(common: Common, config: Config): string {
  return resolve(common.db ?? config.sqlite.path);
}

/**
 * Open the store for a command. Reading commands refuse a missing file (a typo in --db must not create an
 * empty database and report "no routes"); writing commands create it. Migrations run as on start.
 */
export function openCliStore(path: string, config: Config, opts: { create: boolean }): Store {
  if (!opts.create && !existsSync(path)) {
    throw new CliError(1, `database ${path} does not exist (check -c/--db, or run \`weir migrate\` to create it)`);
  }
  try {
    // The same keyring as `start`: keys written here are sealed, sealed keys read here are opened. Before a
    // write, one row per key id proves the keyring fits (decrypting every row would cost each command ~40 ms at
    // 10,000 routes); reading commands (check, get, export) report what they cannot open instead.
    const keyringCheck = opts.create ? 'sample' : 'none';
    return openStore(path, { db: openSqlite(path), keyring: ensureKeyring(config.tls, dirname(path)), keyringCheck });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A file from a newer weir is the user's input problem, as on start.
    const msg = (err as Error).message;
    if (code === 'ERR_DB_TOO_NEW' || err instanceof KeyringError) throw new CliError(2, msg);
    throw new CliError(1, `cannot open database ${path}: ${msg}`);
  }
}

/** The text of a body argument: inline JSON, `@file`, or `-` for standard input. */
export async function readArgument(arg: string, io: CliIo): Promise<string> {
  if (arg === '-') return io.readStdin();
  if (arg.startsWith('@')) {
    const file = arg.slice(1);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(2, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return arg;
}

/** Run fn with a store and always close it. */
export async function withStore<T>(
  path: string,
  config: Config,
  create: boolean,
  fn: (store: Store) => T | Promise<T>,
): Promise<T> {
  const store = openCliStore(path, config, { create });
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}
