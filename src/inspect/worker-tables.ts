// The connection views over every worker (nginx_config.worker_processes > 1), and a dry run's count of them:
// worker 0 reads its own tables and asks the other workers for theirs over the IPC channel (src/cli/worker-ipc.ts),
// each within a bounded wait, then merges, pages and applies the key's scope; ending connections goes to the
// worker that holds them. A worker that does not answer in time is named in the answer (`unanswered_workers`),
// never waited for longer.
//
// Order across workers: by process id, then by each process's own counter, i.e. by the shown "<pid>-<n>" read
// as two numbers. Deterministic, and one worker's rows stay together.
// Questions (JSON): "connection-rows"  {table, query, limit, ids?} -> TableRows & {pid};
//                   "connection-end"   {table, ids} -> {pid, ended};
//                   "connection-count" {routes, upstreamKeys} -> {pid, byRoute} (a dry run's effects.connections).

import type { JsonObject } from '../lib/json';
import {
  type ConnectionQuery, type LiveTables, type RouteVisible, type TableName, type TableRows, countAffectedByRoute, endInTable, parseConnectionQuery, readTable,
} from './connections';

export const ROWS_QUESTION = 'connection-rows';
export const END_QUESTION = 'connection-end';
export const COUNT_QUESTION = 'connection-count';
/** How long worker 0 waits for each other worker's answer (all are asked at once). */
export const WORKER_ANSWER_MS = 2000;

/** "connection-rows": the rows passing `query`'s filters (paging parameters are ignored), at most `limit` built. */
export interface RowsQuestion {
  table: TableName;
  /** The request's query string: each worker reads the filters with the same parser. */
  query: string;
  limit: number | null;
  /** Only these ids of the answering process (a DELETE by id). */
  ids?: number[];
}

/** "connection-end": end these ids of the answering process. */
export interface EndQuestion {
  table: TableName;
  ids: number[];
}

/** "connection-count": the open connections and sessions on these routes or upstream keys (what a write touches). */
export interface CountQuestion {
  routes: string[];
  upstreamKeys: string[];
}

/** One process's count, by route id: worker 0 applies a scoped key's visibility, as it does to rows. */
export interface CountPart {
  pid: number;
  byRoute: Record<string, number>;
}

/** One process's rows. */
export interface RowsPart extends TableRows {
  pid: number;
}

/** A reply to one question from one other worker; `body` only when it answered. */
export interface PeerReply {
  worker: number;
  pid: number;
  answered: boolean;
  body?: unknown;
}

/** How worker 0 asks the other workers (Workers.askEach); those in `pids` only, when given. */
export type AskPeers = (kind: string, args: unknown, timeoutMs: number, pids?: readonly number[]) => Promise<PeerReply[]>;

/** A worker that did not answer in time (or answered nonsense); the answer says so. */
export interface Unanswered {
  worker: number;
  pid: number;
}

function isTable(v: unknown): v is TableName {
  return v === 'tcp' || v === 'udp';
}

function isIdList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 1);
}

/** In any worker, when worker 0 asks "connection-rows". Throws on a malformed question (answered as null). */
export function answerRows(live: LiveTables, question: unknown, pid = process.pid): RowsPart {
  const q = question as Partial<RowsQuestion> | null;
  if (q === null || typeof q !== 'object' || !isTable(q.table) || typeof q.query !== 'string') throw new Error('malformed connection-rows question');
  if (q.limit !== null && !(Number.isSafeInteger(q.limit) && (q.limit as number) >= 0)) throw new Error('malformed connection-rows limit');
  if (q.ids !== undefined && !isIdList(q.ids)) throw new Error('malformed connection-rows ids');
  const parsed = parseConnectionQuery(new URLSearchParams(q.query));
  if (typeof parsed === 'string') throw new Error(parsed);
  const rows = readTable(live, q.table, parsed.filter, q.limit ?? null, q.ids === undefined ? undefined : new Set(q.ids));
  return { pid, ...rows };
}

/** In any worker, when worker 0 asks "connection-end". Throws on a malformed question. */
export function answerEnd(live: LiveTables, question: unknown, pid = process.pid): { pid: number; ended: string[] } {
  const q = question as Partial<EndQuestion> | null;
  if (q === null || typeof q !== 'object' || !isTable(q.table) || !isIdList(q.ids)) throw new Error('malformed connection-end question');
  return { pid, ended: endInTable(live, q.table, new Set(q.ids)) };
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** In any worker, when worker 0 asks "connection-count". Throws on a malformed question. */
export function answerCount(live: LiveTables, question: unknown, pid = process.pid): CountPart {
  const q = question as Partial<CountQuestion> | null;
  if (q === null || typeof q !== 'object' || !isStringList(q.routes) || !isStringList(q.upstreamKeys)) throw new Error('malformed connection-count question');
  return { pid, byRoute: Object.fromEntries(countAffectedByRoute(live, new Set(q.routes), new Set(q.upstreamKeys))) };
}

function isCountPart(v: unknown): v is CountPart {
  const p = v as CountPart | null;
  if (p === null || typeof p !== 'object' || !Number.isSafeInteger(p.pid) || p.byRoute === null || typeof p.byRoute !== 'object') return false;
  return Object.values(p.byRoute).every((n) => Number.isSafeInteger(n) && n >= 0);
}

/**
 * The counts of the other workers `peers` reaches (worker 0 counts its own at once). Resolves within
 * WORKER_ANSWER_MS, with the workers that did not answer listed.
 */
export async function gatherCounts(peers: AskPeers, question: CountQuestion): Promise<{ parts: CountPart[]; unanswered: Unanswered[] }> {
  const parts: CountPart[] = [];
  const unanswered: Unanswered[] = [];
  for (const r of await peers(COUNT_QUESTION, question, WORKER_ANSWER_MS)) {
    if (r.answered && isCountPart(r.body)) parts.push(r.body);
    else unanswered.push({ worker: r.worker, pid: r.pid });
  }
  return { parts, unanswered };
}

/** Name the workers that did not answer in `body` (only when some did not), once each, with the wait they got. */
export function withUnanswered(body: JsonObject, unanswered: readonly Unanswered[]): JsonObject {
  if (unanswered.length === 0) return body;
  const seen = new Set<number>();
  const list = unanswered.filter((u) => !seen.has(u.pid) && seen.add(u.pid)).map((u) => ({ worker: u.worker, pid: u.pid, waited_ms: WORKER_ANSWER_MS }));
  return { ...body, unanswered_workers: list };
}

function isRowsPart(v: unknown): v is RowsPart {
  const p = v as RowsPart | null;
  return p !== null && typeof p === 'object' && Number.isSafeInteger(p.pid) && Number.isSafeInteger(p.total) && Array.isArray(p.rows);
}

function isEndPart(v: unknown): v is { pid: number; ended: string[] } {
  const p = v as { ended?: unknown } | null;
  return p !== null && typeof p === 'object' && Array.isArray(p.ended) && p.ended.every((x) => typeof x === 'string');
}

/**
 * Rows of every worker (this one first, then those `peers` reaches; only the pids given, when given). Resolves
 * within WORKER_ANSWER_MS, with the workers that did not answer listed.
 */
export async function gatherRows(live: LiveTables, peers: AskPeers | null, question: RowsQuestion, pids?: readonly number[]): Promise<{ parts: RowsPart[]; unanswered: Unanswered[] }> {
  const parts: RowsPart[] = [];
  if (pids === undefined || pids.includes(process.pid)) parts.push(answerRows(live, question));
  const others = pids?.filter((p) => p !== process.pid);
  const unanswered: Unanswered[] = [];
  if (peers !== null && (others === undefined || others.length > 0)) {
    for (const r of await peers(ROWS_QUESTION, question, WORKER_ANSWER_MS, others)) {
      if (r.answered && isRowsPart(r.body)) parts.push(r.body);
      else unanswered.push({ worker: r.worker, pid: r.pid });
    }
  }
  return { parts, unanswered };
}

/** End ids per process (this one's at once, the others' asked in parallel); the ended ids by pid, and who did not answer. */
export async function endEverywhere(live: LiveTables, peers: AskPeers | null, table: TableName, byPid: ReadonlyMap<number, number[]>): Promise<{ ended: Map<number, string[]>; unanswered: Unanswered[] }> {
  const ended = new Map<number, string[]>();
  const unanswered: Unanswered[] = [];
  const own = byPid.get(process.pid);
  if (own !== undefined && own.length > 0) ended.set(process.pid, endInTable(live, table, new Set(own)));
  const asks = [...byPid].filter(([pid, ids]) => pid !== process.pid && ids.length > 0);
  if (peers !== null && asks.length > 0) {
    const replies = await Promise.all(asks.map(([pid, ids]) => peers(END_QUESTION, { table, ids } satisfies EndQuestion, WORKER_ANSWER_MS, [pid])));
    for (const r of replies.flat()) {
      if (r.answered && isEndPart(r.body)) ended.set(r.pid, r.body.ended);
      else unanswered.push({ worker: r.worker, pid: r.pid });
    }
  }
  return { ended, unanswered };
}

/**
 * How many rows each worker must send for one page: the first page * size of every worker cover any page
 * of the merge (one worker's rows stay together in the order). A scoped key's rows are filtered by route
 * here, after the answers, so then every row is needed.
 */
export function rowLimit(paging: ConnectionQuery['paging'], scoped: boolean): number | null {
  return scoped || paging === null ? null : paging.page * paging.size;
}

/** Merge the parts: `{total, list}` in the order above, a scoped key's invisible rows left out, one page of it. */
export function mergeParts(parts: readonly RowsPart[], visible: RouteVisible | null, paging: ConnectionQuery['paging']): { total: number; list: JsonObject[] } {
  const ordered = [...parts].sort((a, b) => a.pid - b.pid);
  let total = 0;
  const rows: JsonObject[] = [];
  for (const p of ordered) {
    if (visible === null) {
      total += p.total;
      for (const row of p.rows) rows.push(row);
    } else {
      for (const row of p.rows) if (visible(typeof row.route === 'string' ? row.route : null)) rows.push(row);
    }
  }
  if (visible !== null) total = rows.length;
  const list = paging === null ? rows : rows.slice((paging.page - 1) * paging.size, paging.page * paging.size);
  return { total, list };
}

/** The shown ids as numbers per pid ("<pid>-<n>"), for ending what a listing found. */
export function idsByPid(rows: readonly JsonObject[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const row of rows) {
    const m = typeof row.id === 'string' ? /^(\d+)-(\d+)$/.exec(row.id) : null;
    if (m === null) continue;
    const pid = Number(m[1]);
    out.set(pid, [...(out.get(pid) ?? []), Number(m[2])]);
  }
  return out;
}
