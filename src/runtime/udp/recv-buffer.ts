// The UDP listeners' receive buffer, common to both UDP planes: what is asked for by default, and one warning
// per process when the kernel grants less (Linux caps SO_RCVBUF at net.core.rmem_max without an error).

import { logger } from '../../log/logger';

/** SO_RCVBUF asked for on listeners unless configured (nginx_config.stream.udp_rcvbuf). */
export const DEFAULT_LISTENER_RCVBUF = 4 * 1024 * 1024;

let warned = false;

/**
 * Called once per bound listener with what was asked and what getsockopt reports (null: unknown, or the
 * runtime cannot set it; `error` says why). Linux reports twice the booked size, so a grant at or above the
 * request is the request honoured; below it, datagrams of a burst are dropped earlier than configured.
 */
export function noteRecvBuffer(listen: string, asked: number, granted: number | null, error?: string): void {
  if (warned || (granted !== null && granted >= asked)) return;
  warned = true;
  if (granted === null) {
    logger.warn('udp receive buffer not enlarged', { listen, asked, error });
  } else {
    logger.warn('udp receive buffer smaller than asked: raise net.core.rmem_max', { listen, asked, granted });
  }
}
