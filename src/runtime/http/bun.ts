// Admin API server on Bun.serve (native, no node:http emulation). Selected by runtime/index.ts on Bun.

import type { FetchHandler, HttpServeOptions, HttpServerHandle } from '../types';
import { HEADERS_TIMEOUT_MS, listenFailure, serverErrorResponse, wrapHandler } from './common';

interface BunServer {
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
  requestIP(req: Request): { address: string } | null;
}
interface BunServeOptions {
  hostname: string;
  port: number;
  maxRequestBodySize: number;
  /** Seconds without a byte before Bun closes the connection. */
  idleTimeout: number;
  fetch(req: Request, server: BunServer): Promise<Response>;
  error(err: Error): Response;
}
type BunServe = (opts: BunServeOptions) => BunServer;

/** After an oversized body this much more may arrive before Bun itself refuses (413); we answer 400 first. */
const BODY_SLACK = 64 * 1024 * 1024;

/**
 * Serve `handler` with Bun.serve. Resolves once listening (port 0 picks a free port); rejects with an Error
 * whose code is e.g. "EADDRINUSE". close() also drops open keep-alive connections.
 */
export async function serveBunHttp(handler: FetchHandler, opts: HttpServeOptions): Promise<HttpServerHandle> {
  const serve = (globalThis as { Bun?: { serve: BunServe } }).Bun?.serve;
  if (!serve) throw new Error('ERR_RUNTIME: Bun.serve is only available under Bun');
  const wrapped = wrapHandler(handler, opts);
  let server: BunServer;
  try {
    server = serve({
      hostname: opts.host,
      port: opts.port,
      maxRequestBodySize: opts.maxBodyBytes + BODY_SLACK,
      idleTimeout: Math.max(1, Math.round((opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS) / 1000)), // a client silent this long mid-request is cut (the body deadline is in wrapHandler)
      fetch: (req, srv) => wrapped.fetch(req, srv.requestIP(req)?.address ?? ''),
      error: serverErrorResponse,
    });
  } catch (err) {
    throw listenFailure(err, opts.host, opts.port);
  }
  wrapped.listening(server.port);
  return {
    host: opts.host,
    port: server.port,
    close: async (o) => {
      await server.stop(o?.graceful !== true);
    },
  };
}
