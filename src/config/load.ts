// Find and read the config file (or fall back to the default baked into the build), then parse it.
// With trusted-ca.ts (the CA files the config names), the only part of src/config/ that touches the file system.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_YAML } from '../embedded.gen';
import { parseConfig } from './parse';
import type { Env } from './env';
import { ConfigError, type Config } from './types';

/** What `config.source` says when no file was read. */
export const EMBEDDED_SOURCE = '<embedded default>';

/** Where weir looks when no config path is given: conf/config.yaml under the working directory. */
export function defaultConfigPath(cwd: string = process.cwd()): string {
  return resolve(cwd, 'conf', 'config.yaml');
}

/**
 * Load the config at start. `path` null means conf/config.yaml in the working directory if it exists,
 * else the embedded default (so a bare binary starts with the documented setup). An explicit path that
 * cannot be read is a ConfigError; so is anything parseConfig rejects.
 */
export function loadConfig(path: string | null, env: Env = process.env): { config: Config; warnings: string[] } {
  if (path === null) {
    const fallback = defaultConfigPath();
    if (!existsSync(fallback)) return parseConfig(DEFAULT_CONFIG_YAML, EMBEDDED_SOURCE, env);
    path = fallback;
  }
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${absolute}: ${describeFsError(err)}`);
  }
  return parseConfig(text, absolute, env);
}

/** "ENOENT: no such file or directory" without Node's repeated ", open '<path>'" tail. */
function describeFsError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cut = message.lastIndexOf(', open ');
  return cut < 0 ? message : message.slice(0, cut);
}
