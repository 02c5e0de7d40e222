// Admin API server on Deno.serve (native HTTP, faster than node:http emulation on Deno). Caveat: Deno.serve
// cannot share a port with cluster workers (AddrInUse); a clustered Deno deployment must use node:http,
// which WEIR_HTTP=node selects (runtime/index.ts).

import type { FetchHandler, HttpServeOptions, HttpServerHandle } from '../types';
import { listenFailure, serverErrorResponse, wrapHandler } from './common';

interface DenoServeInfo {
  remoteAddr: { hostname: string };
}
interface DenoHttpServer {
  readonly addr: { port: number };
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}
interface DenoServeOptions {
  hostname: string;
  port: number;
  signal: AbortSignal;
  onListen(): void;
  onError(err: unknown): Response;
}
type DenoServe = (opts: DenoServeOptions, handler: (req: Request, info: DenoServeInfo) => Promise<Response>) => DenoHttpServer;

/**
 * Serve `handler` with Deno.serve. Resolves once listening (port 0 picks a free port); rejects with an Error
 * whose code is e.g. "EADDRINUSE". close() aborts open connections rather than waiting for idle clients.
 */
export async function serveDenoHttp(handler: FetchHandler, opts: HttpServeOptions): Promise<HttpServerHandle> {
  const serve = (globalThis as { Deno?: { serve: DenoServe } }).Deno?.serve;
  if (!serve) throw new Error('ERR_RUNTIME: Deno.serve is only available under Deno');
  const wrapped = wrapHandler(handler, opts);
  const abort = new AbortController();
  let server: DenoHttpServer;
  try {
    server = serve(
      {
        hostname: opts.host,
        port: opts.port,
        signal: abort.signal,
        onListen: () => undefined, // Deno logs "Listening on ..." by default; weir logs its own line.
        onError: serverErrorResponse,
      },
      (req, info) => wrapped.fetch(req, info.remoteAddr.hostname),
    );
  } catch (err) {
    throw listenFailure(err, opts.host, opts.port);
  }
  wrapped.listening(server.addr.port);
  return {
    host: opts.host,
    port: server.addr.port,
    close: async () => {
      abort.abort();
      await server.finished;
    },
  };
}
