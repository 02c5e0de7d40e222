// Dispatch a parsed command line to its command and turn every failure into an exit code and one stderr line.
// main.ts calls it with the process's streams; tests call it in-process with strings. Only `start` is loaded
// with this module: the other commands are imported when run, so a running proxy never holds their code.

import { ConfigError } from '../config/types';
import { logger } from '../log/logger';
import { VERSION } from '../embedded.gen';
import { parseCommandLine, UsageError } from './args';
import { CliError, type CliIo } from './context';
import { startWeir, type Weir } from './start';
import { runSignalCommand } from './signal';
import { writeStatus } from '../control/pid-file';
import { handoverFromEnv } from '../control/upgrade';
import { isExtraWorker } from './workers';

/**
 * SIGTERM/SIGINT stop (a second one exits at once); SIGHUP reloads the config and SIGUSR2 upgrades, each
 * writing its status file for `weir reload` / `weir upgrade`. Extra workers take these from worker 0 instead
 * (a stray SIGHUP must not end them: it is an unhandled signal's default).
 */
function onSignals(weir: Weir, env: Record<string, string | undefined>): void {
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
  if (isExtraWorker(env)) {
    for (const sig of ['SIGHUP', 'SIGUSR2'] as const) process.on(sig, () => logger.info(`${sig} ignored by an extra worker; send it to worker 0`));
    return;
  }
  let reloads = 0;
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the config');
    void weir.reload().then((r) => writeStatus(weir.dbPath, 'reload', { pid: process.pid, count: ++reloads, ok: r.ok, errors: r.errors, live: r.live, kept: r.kept }));
  });
  let upgrades = 0;
  let upgrading = false;
  process.on('SIGUSR2', () => {
    if (upgrading || stopping) return logger.warn('SIGUSR2: an upgrade or stop is already under way');
    upgrading = true;
    logger.info('SIGUSR2: starting the new binary');
    void weir.upgrade().then((r) => {
      upgrading = false;
      const count = ++upgrades;
      if (!r.ok) {
        logger.error('upgrade failed; this process keeps serving', { error: r.error });
        return writeStatus(weir.dbPath, 'upgrade', { pid: process.pid, count, ok: false, errors: [r.error ?? 'unknown'] });
      }
      logger.info('upgrade: the new process serves; draining', { new_pid: r.newPid, open_connections: weir.proxy.activeConnections() });
      writeStatus(weir.dbPath, 'upgrade', { pid: process.pid, count, ok: true, errors: [], newPid: r.newPid });
      stop('upgrade');
    });
  });
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
      case 'start': {
        // started by `weir upgrade`: take over the old process's sockets
        const handover = opts.signals === false ? null : handoverFromEnv(io.env);
        try {
          const weir = await startWeir({ configPath: cmd.config, env: io.env, dbPath: cmd.db, handover });
          if (opts.signals !== false) onSignals(weir, io.env);
          handover?.started();
          return null;
        } catch (err) {
          return startFailure(err, io);
        }
      }
      case 'reload':
      case 'upgrade':
        return await runSignalCommand(cmd, io);
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
