// One wording for "cannot bind": the address, where the config asked for it, and why, without a stack trace.

import { formatHostPort } from './ip';

const WHY: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
};

/** `cannot listen on 127.0.0.1:9101 (apisix.stream_proxy.tcp[1]): address already in use`, keeping err.code. */
export function listenError(err: unknown, host: string, port: number, origin: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = (code && WHY[code]) ?? String((err as Error)?.message ?? err);
  const wrapped = new Error(`cannot listen on ${formatHostPort(host, port)} (${origin}): ${why}`);
  (wrapped as NodeJS.ErrnoException).code = code ?? 'ERR_LISTEN';
  return wrapped;
}
