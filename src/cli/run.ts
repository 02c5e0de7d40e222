// Dispatch a parsed command line to its command and turn every failure into an exit code and one stderr line.
// main.ts calls it with the process's streams; tests call it in-process with strings. Only `start` is loaded
// with this module: the other commands are imported when run, so a running proxy never holds their code.

import { ConfigError } from '../config/types';
import { logger } from '../log/logger';
import { VERSION } from '../embedded.gen';
import { parseCommandLine, UsageError } from './args';
import { CliError, type CliIo } from './context';
import { startWeir, type Weir } from './start';

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

/** Exit code for a failure of `weir start`: config and too-new database are bad input, the rest runtime. */
function startFailure(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError) {
    io.err(`weir: config error: ${err.message}\n`);
    return 2;
  }
  io.err(`weir: ${(err as Error).message}\n`);
  return (err as { code?: string }).code === 'ERR_DB_TOO_NEW' ? 2 : 1;
}

/**
 * Run one command line. Resolves to the exit code, or null when `start` is now running (the process
 * stays up until a signal). `signals: false` leaves process signal handlers alone (tests).
 */
export async function runCli(argv: string[], io: CliIo, opts: { signals?: boolean } = {}): Promise<number | null> {
  try {
    const cmd = parseCommandLine(argv);
    switch (cmd.name) {
      case 'help':
        io.out((await import('./help')).HELP);
        return 0;
      case 'version':
        io.out(`weir ${VERSION}\n`);
        return 0;
      case 'start':
        try {
          const weir = await startWeir({ configPath: cmd.config, env: io.env, dbPath: cmd.db });
          if (opts.signals !== false) onSignals(weir);
          return null;
        } catch (err) {
          return startFailure(err, io);
        }
      case 'object':
        await (await import('./objects')).runObjectCommand(cmd, io);
        return 0;
      case 'export':
        await (await import('./export')).runExport(cmd, io);
        return 0;
      case 'import':
        await (await import('./import')).runImport(cmd, io);
        return 0;
      case 'migrate':
        await (await import('./maintain')).runMigrate(cmd, io);
        return 0;
      case 'check':
        await (await import('./maintain')).runCheck(cmd, io);
        return 0;
      case 'explain':
        await (await import('./explain')).runExplain(cmd, io);
        return 0;
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof CliError) {
      io.err(`weir: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`weir: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
