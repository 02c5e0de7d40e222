// Picks the runtime-specific implementations once. The only place that asks which runtime this is.

import type { FetchHandler, HttpServeOptions, HttpServerHandle, SqlDb, TcpDataPlane } from './types';
import { openBetterSqlite } from './sqlite/better';
import { loadNodeSqlite, openNodeSqlite } from './sqlite/node';
import { openBunSqlite } from './sqlite/bun';
import { serveBunHttp } from './http/bun';
import { serveDenoHttp } from './http/deno';
import { createBunTcpDataPlane } from './tcp/bun/plane';
import { createBunUdpDataPlane } from './udp/bun';
import type { UdpDataPlane, UdpPlaneOptions } from './types';
import { trimCodePages } from './bun/trim';
import { loadNodeTcpPlane, loadNodeUdpPlane } from './load-node-plane';

export type RuntimeName = 'node' | 'bun' | 'deno';

/** Which JavaScript runtime runs weir. Decided from globals once; nothing else may look at them. */
export function detectRuntime(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (g.Bun !== undefined) return 'bun';
  if (g.Deno !== undefined) return 'deno';
  return 'node';
}

export type SqliteDriverName = 'better' | 'node' | 'bun';

const SQLITE_OPENERS: Record<SqliteDriverName, (path: string) => SqlDb> = {
  better: openBetterSqlite,
  node: openNodeSqlite,
  bun: openBunSqlite,
};

/**
 * The SQLite driver for this process: `WEIR_SQLITE=better|node|bun` if set, else bun:sqlite on Bun,
 * node:sqlite where it exists (Node >= 22.13, Deno), else better-sqlite3 (Node 20). Throws on a bad override.
 */
export function chooseSqliteDriver(env: Record<string, string | undefined> = process.env): SqliteDriverName {
  const forced = env.WEIR_SQLITE?.trim();
  if (forced) {
    if (forced === 'better' || forced === 'node' || forced === 'bun') return forced;
    throw new Error(`WEIR_SQLITE: "${forced}" is not one of better, node, bun`);
  }
  if (detectRuntime() === 'bun') return 'bun';
  return loadNodeSqlite() ? 'node' : 'better';
}

/** Open (creating if needed) the SQLite file with this runtime's driver. */
export function openSqlite(path: string): SqlDb {
  return SQLITE_OPENERS[chooseSqliteDriver()](path);
}

/**
 * Serve a fetch-style handler (the Admin API): Bun.serve on Bun, Deno.serve on Deno, node:http elsewhere.
 * `WEIR_HTTP=node` forces node:http (needed for cluster workers on Deno, which cannot share a Deno.serve port).
 */
export function serveHttp(handler: FetchHandler, opts: HttpServeOptions): Promise<HttpServerHandle> {
  const runtime = process.env.WEIR_HTTP === 'node' ? 'node' : detectRuntime();
  if (runtime === 'bun') return serveBunHttp(handler, opts);
  if (runtime === 'deno') return serveDenoHttp(handler, opts);
  // loaded only here: node:http is the heaviest builtin weir names (~2.3 MiB resident under Bun, unused there)
  return import('./http/node').then((m) => m.serveNodeHttp(handler, opts));
}

/**
 * Hand the memory start-up left behind back to the system: a full GC, then Bun.shrink() returns the freed
 * heap pages (about 2-3 MiB of RSS), then releaseIdleCode(). A no-op outside Bun. Costs one full GC
 * (milliseconds; more with many routes), so callers run it once, after start (src/cli/start.ts).
 */
export function releaseIdleMemory(env: Record<string, string | undefined> = process.env): void {
  const bun = (globalThis as { Bun?: { gc?(sync: boolean): void; shrink?(): void } }).Bun;
  if (bun === undefined || typeof bun.gc !== 'function') return;
  bun.gc(true);
  if (typeof bun.shrink === 'function') bun.shrink();
  releaseIdleCode(env);
}

/**
 * Unmap the executable's code pages that start-up or an Admin API change touched (src/runtime/bun/trim.ts:
 * about 20 MiB of RSS after start; the data plane's own code faults back in from the page cache at once).
 * Takes 1-4 ms of the event loop. Bun on Linux only; `WEIR_TRIM_CODE=0` keeps the pages.
 */
export function releaseIdleCode(env: Record<string, string | undefined> = process.env): void {
  if (detectRuntime() === 'bun' && env.WEIR_TRIM_CODE !== '0') trimCodePages();
}

/**
 * The TCP byte pump for this runtime: Bun-native sockets on Bun (about 1.5-2x cheaper per connection
 * than Bun's node:net layer, see bench/README.md), node:net elsewhere. `WEIR_DATA_PLANE=node` forces
 * node:net on Bun (A/B measurements). `reusePort` (multi-core workers, src/cli/workers.ts) lets several
 * processes bind the same listener with SO_REUSEPORT; only the Bun plane supports it. The node planes are
 * imported only when chosen (load-node-plane.ts), so that a Bun process never loads node:net/node:dgram for them.
 */
export async function createTcpDataPlane(opts: { reusePort?: boolean } = {}): Promise<TcpDataPlane> {
  if (detectRuntime() === 'bun' && process.env.WEIR_DATA_PLANE !== 'node') {
    return createBunTcpDataPlane({ reusePort: opts.reusePort === true });
  }
  return loadNodeTcpPlane();
}

/**
 * The datagram path for this runtime (UDP listeners and per-session upstream sockets). `reusePort` (multi-core
 * workers) binds listeners with SO_REUSEPORT so every worker serves them: on Bun both planes can (the native
 * one through the flag Bun's node:dgram sets, see udp/bun.ts), node:dgram on Node 20 cannot.
 */
export async function createUdpDataPlane(opts: UdpPlaneOptions = {}): Promise<UdpDataPlane> {
  // Bun.udpSocket batches sends per event-loop turn (sendmmsg); WEIR_DATA_PLANE=node forces node:dgram.
  if (detectRuntime() === 'bun' && process.env.WEIR_DATA_PLANE !== 'node') {
    return createBunUdpDataPlane({ reusePort: opts.reusePort === true, rcvbuf: opts.rcvbuf });
  }
  return loadNodeUdpPlane({ rcvbuf: opts.rcvbuf, reusePort: opts.reusePort === true && detectRuntime() === 'bun' });
}

/**
 * The HTTP/1.1 client the etcd client speaks through (src/fleet/): node:http/node:https on every runtime
 * (they stream bodies and take TLS options alike on Node, Bun and Deno). Imported on the first call only.
 */
export function loadHttpClient(): Promise<import('./types').HttpClientPort> {
  return import('./http-client/node').then((m) => m.nodeHttpClient);
}
