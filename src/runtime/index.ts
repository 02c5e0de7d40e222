// Picks the runtime-specific implementations once. The only place that asks which runtime this is.

import type { FetchHandler, HttpServeOptions, HttpServerHandle, SqlDb, TcpDataPlane } from './types';
import { openBetterSqlite } from './sqlite-better';
import { serveNodeHttp } from './http-node';
import { createNodeTcpDataPlane } from './tcp-node';

export type RuntimeName = 'node' | 'bun' | 'deno';

/** Which JavaScript runtime runs weir. Decided from globals once; nothing else may look at them. */
export function detectRuntime(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (g.Bun !== undefined) return 'bun';
  if (g.Deno !== undefined) return 'deno';
  return 'node';
}

/** Open (creating if needed) the SQLite file with this runtime's driver. */
export function openSqlite(path: string): SqlDb {
  // TODO(single-binary issue): node:sqlite on Node >= 22.13 and Deno, bun:sqlite on Bun.
  return openBetterSqlite(path);
}

/** Serve a fetch-style handler (the Admin API). */
export function serveHttp(handler: FetchHandler, opts: HttpServeOptions): Promise<HttpServerHandle> {
  return serveNodeHttp(handler, opts);
}

/** The TCP byte pump for this runtime. */
export function createTcpDataPlane(): TcpDataPlane {
  // TODO(performance issue): a Bun-native implementation (Bun.listen/Bun.connect) on Bun.
  return createNodeTcpDataPlane();
}
