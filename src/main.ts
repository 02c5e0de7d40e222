// weir's entry point: parse argv, dispatch a command, map failures to exit codes (2 bad input, 1 runtime error).

import { parseArgs } from 'node:util';
import { ConfigError } from './config/types';
import { startWeir, type Weir } from './cli/start';
import { logger } from './log/logger';
import { VERSION } from './embedded.gen';

export const HELP = `weir: TCP/UDP edge proxy with an APISIX-compatible Admin API and an embedded SQLite store

Usage:
  weir [start] [-c FILE]     run the proxy (default command)
  weir --version             print the version
  weir --help                print this help

Options:
  -c, --config FILE   config file (default: conf/config.yaml in the working directory if present,
                      otherwise the built-in default). Keys follow APISIX's config.yaml:
                      apisix.stream_proxy.tcp, deployment.admin.*, plus deployment.sqlite.path.

Routes, upstreams and certificates live in the SQLite file (deployment.sqlite.path, default
data/weir.db) and change live through the Admin API (default http://127.0.0.1:9180/apisix/admin/).

Signals: SIGTERM or SIGINT stop accepting and let open connections finish for
nginx_config.worker_shutdown_timeout (default 240s); a second signal exits at once.

Exit codes: 0 ok, 1 runtime error (e.g. a port in use), 2 bad input (arguments or config).
`;

class UsageError extends Error {}

function parseCommandLine(argv: string[]): { command: 'start' | 'help' | 'version'; config: string | null } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help', config: null };
  if (values.version) return { command: 'version', config: null };
  const [command = 'start', ...rest] = positionals;
  if (command === 'help') return { command: 'help', config: null };
  if (command === 'version') return { command: 'version', config: null };
  if (command !== 'start') throw new UsageError(`unknown command "${command}" (try --help)`);
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (values.config !== undefined && values.config.trim() === '') throw new UsageError('--config needs a file name');
  return { command, config: values.config ?? null };
}

function onSignals(weir: Weir): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(0);
    }
    stopping = true;
    logger.info(`${signal}: stopping`, { open_connections: weir.proxy.activeConnections() });
    weir.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('error while stopping', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[]): Promise<number | null> {
  let cmd;
  try {
    cmd = parseCommandLine(argv);
  } catch (err) {
    process.stderr.write(`weir: ${(err as Error).message}\n`);
    return 2;
  }
  if (cmd.command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd.command === 'version') {
    process.stdout.write(`weir ${VERSION}\n`);
    return 0;
  }
  try {
    const weir = await startWeir({ configPath: cmd.config });
    onSignals(weir);
    return null; // keeps running
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`weir: config error: ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_DB_TOO_NEW') {
      process.stderr.write(`weir: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`weir: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`weir: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
