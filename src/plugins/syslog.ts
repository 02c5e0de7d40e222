// syslog (APISIX priority 401): one RFC 5424 message per finished connection or UDP session, sent to a
// syslog server over TCP (optionally TLS) or UDP through a batch processor. APISIX's fields and defaults;
// the entry is weir's default one, or the route's `log_format`, else plugin_metadata/syslog's `log_format`.
//
// A server that is down or slow never slows proxying: the log phase formats one line and hands it to the
// batch processor (src/log/batch-processor.ts), which sends asynchronously and bounds everything waiting by
// drop_limit; entries beyond it are dropped, counted (weir_stream_log_dropped_total) and warned about.
// flush_limit is resty.logger.socket's: over TCP a batch is written in pieces of about that many bytes. Over
// UDP every entry is its own datagram (RFC 5426), so it has no effect there; pool_size (the cosocket pool) is
// accepted and ignored: one connection per route instance.
// When the route stops being served (changed, deleted) or weir stops, dispose() sends what is still queued at
// once (the shutdown waits for it within its grace period) and closes the connection once nothing waits.

import { hostname } from 'node:os';
import { isPlainObject, type JsonObject } from '../lib/json';
import { type BatchOptions, BatchProcessor } from '../log/batch-processor';
import { logger } from '../log/logger';
import { RateLimitedWarn } from '../log/rate-limit';
import { FACILITY, formatSyslog, prepareHeader, SEVERITY } from '../log/rfc5424';
import type { CounterCell } from '../metrics/types';
import type { StreamFilter } from '../proxy/filter/types';
import { createLogClient, type LogClient } from '../runtime/log-client';
import { anyObject, bool, int, intRange, looseObj, opt, str, strEnum } from '../schema/common';
import { compileLogFormat } from './log-format';
import type { PluginCompileContext, PluginModule } from './types';

const NAME = 'syslog';
const PRIORITY = 401;
const APP_NAME = 'weir';
const HEADER = prepareHeader({ facility: FACILITY.syslog!, severity: SEVERITY.info!, hostname: hostname(), appName: APP_NAME, procId: String(process.pid), msgId: '-' });

/** Drop and failure warnings: one line per route and kind per period. */
const warnings = new RateLimitedWarn();

const schema = looseObj({
  host: str(),
  port: int(),
  flush_limit: opt(intRange(1)),
  drop_limit: opt(int()),
  timeout: opt(intRange(1)),
  sock_type: opt(strEnum(['tcp', 'udp'])),
  pool_size: opt(intRange(5)),
  tls: opt(bool()),
  log_format: opt(anyObject()),
  // APISIX's batch processor fields (batch-processor-manager's wrap_schema)
  name: opt(str()),
  batch_max_size: opt(intRange(1)),
  inactive_timeout: opt(intRange(1)),
  buffer_duration: opt(intRange(1)),
  max_retry_count: opt(intRange(0)),
  retry_delay: opt(intRange(0)),
});

const num = (conf: JsonObject, key: string, fallback: number): number => (typeof conf[key] === 'number' ? (conf[key] as number) : fallback);

/** The batch settings of a conf, APISIX's defaults applied (seconds become ms). */
export function batchOptionsOf(conf: JsonObject): BatchOptions {
  return {
    batchMaxSize: num(conf, 'batch_max_size', 1000),
    inactiveTimeoutMs: num(conf, 'inactive_timeout', 5) * 1000,
    bufferDurationMs: num(conf, 'buffer_duration', 60) * 1000,
    maxRetryCount: num(conf, 'max_retry_count', 0),
    retryDelayMs: num(conf, 'retry_delay', 1) * 1000,
    maxPendingBytes: num(conf, 'drop_limit', 1_048_576),
  };
}

/** What compile() hands the filter; a test seam for the client (the real one talks to the server). */
export interface SyslogParts {
  client: LogClient;
  dropped: CounterCell;
  processor: BatchProcessor;
}

/** The filter and its parts (tests reach the processor through them). */
export function compileSyslog(conf: JsonObject, ctx: PluginCompileContext, client?: LogClient): { filter: StreamFilter; parts: SyslogParts } {
  const host = conf.host as string;
  const port = conf.port as number;
  const label = ctx.routeId;
  const sender =
    client ??
    createLogClient({
      host,
      port,
      sockType: conf.sock_type === 'udp' ? 'udp' : 'tcp',
      tls: conf.tls === true,
      timeoutMs: num(conf, 'timeout', 3000),
      flushLimit: num(conf, 'flush_limit', 4096),
    });
  const dropped = ctx.metrics?.logDropped(NAME, label) ?? { value: 0 };
  const where = `${host}:${port}`;
  const processor = new BatchProcessor(batchOptionsOf(conf), (lines) => sender.send(lines), {
    dropped(count, why, error) {
      dropped.value += count;
      const message = why === 'full' ? 'syslog buffer full (drop_limit); entries dropped' : 'syslog batch failed after its retries; entries dropped';
      warnings.warn(`${label}:${why}`, message, { route: ctx.routeId, server: where, count, error });
    },
    // after dispose: no timer will send anything any more, so the socket need not wait for its idle timeout
    idle: () => sender.close(),
  });
  const format = isPlainObject(conf.log_format) ? conf.log_format : ctx.metadata(NAME)?.log_format;
  const build = compileLogFormat(isPlainObject(format) ? format : null);
  const filter: StreamFilter = {
    name: NAME,
    priority: PRIORITY,
    /** One entry per connection: JSON, an RFC 5424 line, a push. Never waits for the server. */
    log(done) {
      const now = Date.now();
      let json: string;
      try {
        json = JSON.stringify(build(done, now));
      } catch (err) {
        logger.error('syslog: entry could not be encoded', { route: ctx.routeId, error: (err as Error).message });
        return;
      }
      processor.push(formatSyslog(HEADER, now, json));
    },
    /** The route's chain is no longer served, or weir is stopping: what is queued goes now. */
    dispose: () => processor.drain(),
  };
  return { filter, parts: { client: sender, dropped, processor } };
}

export const syslog: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  schema,
  metadataSchema: looseObj({ log_format: opt(anyObject()) }),
  jsonSchema: {
    type: 'object',
    properties: {
      host: { type: 'string' },
      port: { type: 'integer' },
      flush_limit: { type: 'integer', minimum: 1, default: 4096 },
      drop_limit: { type: 'integer', default: 1048576 },
      timeout: { type: 'integer', minimum: 1, default: 3000 },
      sock_type: { type: 'string', default: 'tcp', enum: ['tcp', 'udp'] },
      pool_size: { type: 'integer', minimum: 5, default: 5 },
      tls: { type: 'boolean', default: false },
      log_format: { type: 'object' },
      name: { type: 'string', default: 'stream sys logger' },
      batch_max_size: { type: 'integer', minimum: 1, default: 1000 },
      inactive_timeout: { type: 'integer', minimum: 1, default: 5 },
      buffer_duration: { type: 'integer', minimum: 1, default: 60 },
      max_retry_count: { type: 'integer', minimum: 0, default: 0 },
      retry_delay: { type: 'integer', minimum: 0, default: 1 },
    },
    required: ['host', 'port'],
  },

  compile(conf, ctx) {
    return compileSyslog(conf, ctx).filter;
  },
};
