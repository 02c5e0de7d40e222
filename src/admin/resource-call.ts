// One resource request as weir runs it around the APISIX object operations: the caller's scope, `?dry_run=true`
// (the real write, rolled back, plus its effects), shadow warnings in write answers and in
// `GET .../stream_routes?warnings=true`, and one log line per write naming the key (never the key itself).

import { logger } from '../log/logger';
import type { JsonObject } from '../lib/json';
import type { DryRun } from '../objects/dry-run';
import { ObjectError, keyNotFound } from '../objects/errors';
import type { ObjectContext, ObjectResult } from '../objects/index';
import { type LiveTables, sumVisible } from '../inspect/connections';
import { affectedTargets, computeEffects } from '../inspect/effects';
import { type AskPeers, type CountQuestion, gatherCounts, withUnanswered } from '../inspect/worker-tables';
import type { RuleCache } from '../inspect/rules';
import { AUTO_WARNINGS_MAX_ROUTES, allWarnings, visibleWarnings, warningsAround } from '../inspect/warnings';
import type { StoreContents, StoredObject } from '../store/types';
import { handleResource, type ResourceCall } from './resources';
import { AdminError } from './respond';
import type { AdminIdentity } from './scope';
import { scopedStore } from './scoped-store';

export interface ResourceCallDeps {
  /** The object context of unscoped calls (the real store, onChange, clock). */
  ops: ObjectContext;
  /** Compiled route rules by row text, shared by every request (warnings, effects). */
  rules: RuleCache;
  /** Open connections, for the effects of a dry run; null when the proxy is not running here. */
  live: LiveTables | null;
  /** The other workers (worker_processes > 1): a dry run counts their open connections too; absent or null: none. */
  peers?: AskPeers | null;
  /** Log each write with the key's name (default true; the offline CLI has no key to name). */
  audit?: boolean;
}

const WRITES = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/** A call's answer; a dry run's also carries what the write touches, for counting on the other workers. */
export interface CallResult extends ObjectResult {
  affected?: CountQuestion;
}

function scopeRefusal(method: string): AdminError {
  return new AdminError(401, { error_msg: 'failed to check token', description: `method ${method} is not in the key's scope for this object` });
}

/** The id a write answered with (POST generates it), or the URL's. */
function writtenId(call: ResourceCall, result: ObjectResult): string | undefined {
  const value = result.body.value;
  if (value !== null && typeof value === 'object' && 'id' in value) return String((value as JsonObject).id);
  return call.id;
}

/** Warnings naming the written route, among those the caller may see; added to the answer only when there are some. */
function withWarnings(result: ObjectResult, routes: readonly StoredObject[], id: string | undefined, deps: ResourceCallDeps, who: AdminIdentity): ObjectResult {
  if (id === undefined) return result;
  const scope = who.scope;
  const warnings = visibleWarnings(warningsAround(deps.rules.rulesOf(routes), id), scope === null ? undefined : (rid) => scope.sees('stream_routes', rid));
  return warnings.length === 0 ? result : { status: result.status, body: { ...result.body, warnings: warnings as unknown as JsonObject[] } };
}

/**
 * Before a call runs: refuse what `who`'s scope does not grant (an object outside it answers as a missing one).
 * Also for calls with their own handler (runCustomCall).
 */
function checkScope(call: ResourceCall, who: AdminIdentity): void {
  const { method, res } = call;
  const scope = who.scope;
  if (scope !== null && call.id !== undefined && call.id !== '' && method !== 'POST') {
    if (!scope.sees(res, call.id)) throw keyNotFound();
    if (!scope.allows(res, call.id, method)) throw scopeRefusal(method);
  }
  if (scope !== null && method === 'POST' && !scope.allowsAnyId(res, method)) throw scopeRefusal(method);
}

/**
 * Run one resource call for `who`. Throws ObjectError/AdminError for refusals (mapped by the app). An object
 * outside a scoped key's scope answers exactly as a missing one; a method the scope does not grant on an object
 * the key sees is a 401 like the viewer role's.
 */
export function runResourceCall(deps: ResourceCallDeps, call: ResourceCall, who: AdminIdentity): CallResult {
  const { method, res } = call;
  const write = WRITES.has(method);
  const scope = who.scope;
  const raw = deps.ops.store;
  const ops: ObjectContext = scope === null ? deps.ops : { ...deps.ops, store: scopedStore(raw, scope, method) };
  const dry = write && call.query.get('dry_run') === 'true';
  try {
    checkScope(call, who);
    let result: CallResult;
    if (dry) {
      result = rehearseCall(deps, ops, call, who);
    } else {
      result = handleResource(ops, call);
      // the warnings need every route's rule: read (and analysed) only while that stays cheap
      if (res === 'stream_routes' && write && method !== 'DELETE' && raw.count('stream_routes') <= AUTO_WARNINGS_MAX_ROUTES) {
        result = withWarnings(result, raw.list('stream_routes'), writtenId(call, result), deps, who);
      }
      if (res === 'stream_routes' && method === 'GET' && call.id === undefined && call.query.get('warnings') === 'true') {
        const warnings = visibleWarnings(allWarnings(deps.rules.rulesOf(raw.list('stream_routes'))), scope === null ? undefined : (rid) => scope.sees('stream_routes', rid));
        result = { status: result.status, body: { ...result.body, warnings: warnings as unknown as JsonObject[] } };
      }
    }
    if (write && deps.audit !== false) logWrite(who, call, result.status, dry, writtenId(call, result));
    return result;
  } catch (err) {
    if (write && deps.audit !== false) logWrite(who, call, err instanceof ObjectError || err instanceof AdminError ? err.status : 500, dry, call.id);
    throw err;
  }
}

/**
 * A call whose resource has its own handler ([weir] stream_listeners: bound before stored, src/admin/listeners.ts),
 * with the same scope checks, scoped store and write log as runResourceCall. `?dry_run=true` is the plain
 * rehearsal of runResourceCall: the write rolled back, and the handler (which would bind) never runs.
 */
export async function runCustomCall(
  deps: ResourceCallDeps,
  call: ResourceCall,
  who: AdminIdentity,
  handle: (ops: ObjectContext) => Promise<ObjectResult>,
): Promise<CallResult> {
  const write = WRITES.has(call.method);
  if (write && call.query.get('dry_run') === 'true') return runResourceCall(deps, call, who);
  const scope = who.scope;
  const ops: ObjectContext = scope === null ? deps.ops : { ...deps.ops, store: scopedStore(deps.ops.store, scope, call.method) };
  try {
    checkScope(call, who);
    const result = await handle(ops);
    if (write && deps.audit !== false) logWrite(who, call, result.status, false, writtenId(call, result));
    return result;
  } catch (err) {
    if (write && deps.audit !== false) logWrite(who, call, err instanceof ObjectError || err instanceof AdminError ? err.status : 500, false, call.id);
    throw err;
  }
}

/**
 * `?dry_run=true`: the real write inside a rolled-back transaction, answered with the object and `effects`
 * (this process's connections counted; `affected` says what to count on the other workers).
 */
function rehearseCall(deps: ResourceCallDeps, ops: ObjectContext, call: ResourceCall, who: AdminIdentity): CallResult {
  const raw = deps.ops.store;
  let before: StoreContents | null = null;
  let after: StoreContents | null = null;
  const dryRun: DryRun = {
    capture(phase) {
      if (phase === 'before') before = raw.readAll();
      else after = raw.readAll();
    },
  };
  const result = handleResource({ ...ops, dryRun }, call);
  const scope = who.scope;
  const visible = scope === null ? undefined : (res: 'stream_routes' | 'upstreams' | 'ssls', id: string) => scope.sees(res, id);
  const effects = computeEffects({ before: before!, after: after!, rules: deps.rules, live: deps.live, visible });
  let answer: ObjectResult = { status: result.status, body: { ...result.body, dry_run: true, effects } };
  if (call.res === 'stream_routes' && call.method !== 'DELETE' && after!.streamRoutes.length <= AUTO_WARNINGS_MAX_ROUTES) {
    answer = withWarnings(answer, after!.streamRoutes, writtenId(call, result), deps, who);
  }
  return deps.peers == null ? answer : { ...answer, affected: affectedTargets(before!, after!, visible) };
}

/**
 * After a dry run, with several workers: the other workers' open connections on what the write touches are added
 * to `effects.connections` (a scoped key's visibility applied to their counts by route, as to the listing's rows),
 * and the workers that did not answer within WORKER_ANSWER_MS are named in `unanswered_workers`, as the
 * connection views do. Any other answer is returned as it is.
 */
export async function countOnOtherWorkers(deps: ResourceCallDeps, result: CallResult, who: AdminIdentity): Promise<ObjectResult> {
  const { affected, ...answer } = result;
  const effects = answer.body.effects as JsonObject | undefined;
  if (affected === undefined || deps.peers == null || effects === undefined) return answer;
  const { parts, unanswered } = await gatherCounts(deps.peers, affected);
  const scope = who.scope;
  const visible = (id: string | null): boolean => id !== null && (scope === null || scope.sees('stream_routes', id));
  let connections = effects.connections as number;
  for (const p of parts) connections += sumVisible(Object.entries(p.byRoute), visible);
  return { status: answer.status, body: withUnanswered({ ...answer.body, effects: { ...effects, connections } }, unanswered) };
}

/** One line per write, successful or refused. The key's configured name identifies the caller; the key never appears. */
function logWrite(who: AdminIdentity, call: ResourceCall, status: number, dry: boolean, id: string | undefined): void {
  logger.info('admin write', {
    key: who.name,
    method: call.method,
    object: id === undefined ? call.res : `${call.res}/${id}`,
    status,
    dry_run: dry ? true : undefined,
  });
}
