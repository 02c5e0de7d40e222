// The error-log line of a failed upstream connect. Ordinary failures (refused, timeout) get one line each, as nginx
// writes them (the APISIX test suite reads the try order from them). Running out of fds or ports (EMFILE, ENFILE,
// ENOBUFS, ENOMEM, EADDRNOTAVAIL) fails every dial at once: those are written at most once a second per code, with
// the number held back, so a flood cannot turn the error log into the next exhausted resource.

import { logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';

const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL']);

let resourceWarnings: RateLimitedWarn | null = null;

/** Log one failed connect attempt. Runs once per failed attempt. */
export function warnConnectFailure(upstream: string, node: string, code: string): void {
  if (!RESOURCE_CODES.has(code)) return logger.warn('connect() failed', { upstream, node, error: code });
  resourceWarnings ??= new RateLimitedWarn({ periodMs: 1000 });
  resourceWarnings.warn(code, 'connect() failed: out of file descriptors or ports', { upstream, node, error: code });
}
