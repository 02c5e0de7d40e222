// limit-conn (APISIX priority 1003): at most `conn` concurrent connections per key value; the next `burst` ones
// wait default_conn_delay × floor((n - 1) / conn) seconds, then go on; any beyond conn + burst is closed at once
// (code 503 in the log). A UDP session counts as one connection. The count goes down in the log phase, when the
// connection or session is over (resty.limit.conn's incoming/leaving, as APISIX's stream plugin uses it).
//
// Counts are keyed by route, conf and key value (APISIX: resource key, conf version, key), so a route's conf
// change starts fresh counts while connections admitted before still give back theirs. They live in
// ConnCounters: exact in one process, and host-wide with several workers (worker 0 holds them).

import * as v from 'valibot';
import { computeCrc32c } from '../lib/crc32c';
import type { JsonObject } from '../lib/json';
import type { AccessVerdict, ExplainedConn, FilterConn, FilterExplanation, StreamFilter, VarSource } from '../proxy/filter/types';
import { bool, int, num, oneOf, opt, str } from '../schema/common';
import type { ConnCounters } from './conn-counters';
import { pluginObject } from './schema';
import type { PluginModule } from './types';
import { compileTemplate, compileVar, type RouteVars } from './vars';

const NAME = 'limit-conn';
const PRIORITY = 1003;

const positiveInt = v.pipe(int(), v.check((n) => n > 0, (i) => `expected ${i.input} to be greater than 0`));
const nonNegativeInt = v.pipe(int(), v.check((n) => n >= 0, (i) => `expected ${i.input} to be at least 0`));
const positiveNumber = v.pipe(num(), v.check((n) => n > 0, (i) => `expected ${i.input} to be greater than 0`));

const schema = pluginObject({
  conn: positiveInt,
  burst: nonNegativeInt,
  default_conn_delay: positiveNumber,
  only_use_default_delay: opt(bool()),
  key: str(),
  key_type: opt(oneOf(['var', 'var_combination'])),
});

/** The key value of a connection; nil (an unset variable, or a template with none resolved) is the client IP. */
function compileKey(conf: JsonObject, route: RouteVars): (c: VarSource) => string {
  const key = conf.key as string;
  if (conf.key_type === 'var_combination') {
    const template = compileTemplate(key, route);
    return (c) => {
      const r = template.resolve(c);
      return r.resolved === 0 ? c.info.remoteAddr : r.text;
    };
  }
  const read = compileVar(key, route);
  return (c) => read(c) ?? c.info.remoteAddr;
}

/** A connection admitted while over `conn` waits this long (resty.limit.conn's delay, in ms). */
export function burstDelayMs(count: number, conn: number, delaySeconds: number): number {
  return count > conn ? delaySeconds * 1000 * Math.floor((count - 1) / conn) : 0;
}

function wait(ms: number): Promise<AccessVerdict> {
  return new Promise((resolve) => setTimeout(resolve, ms, undefined));
}

class LimitConnFilter implements StreamFilter {
  readonly name = NAME;
  readonly priority = PRIORITY;
  private readonly max: number;

  constructor(
    private readonly counters: ConnCounters,
    /** Route key and conf checksum: what makes counts of different routes and confs distinct. */
    private readonly prefix: string,
    private readonly keyOf: (c: VarSource) => string,
    private readonly conn: number,
    burst: number,
    private readonly delaySeconds: number,
  ) {
    this.max = conn + burst;
  }

  access(c: FilterConn): AccessVerdict | Promise<AccessVerdict> {
    const key = this.prefix + this.keyOf(c);
    const n = this.counters.acquire(key, this.max);
    if (typeof n === 'number') return this.counted(c, key, n);
    return n.then((count) => {
      // shutdown ended it while worker 0 was asked: its log phase has run, so give the count back here
      if (c.aborted) {
        if (count > 0) this.counters.release(key);
        return undefined;
      }
      return this.counted(c, key, count);
    });
  }

  private counted(c: FilterConn, key: string, count: number): AccessVerdict | Promise<AccessVerdict> {
    if (count === 0) return { code: 503, reason: `limit-conn: over ${this.max} connections (conn + burst) for key ${key.slice(this.prefix.length)}` };
    c.setState(NAME, key);
    const delay = burstDelayMs(count, this.conn, this.delaySeconds);
    return delay >= 1 ? wait(delay) : undefined;
  }

  /** The count for this connection's key now, and what one more connection would get: no count is taken. */
  explain(c: ExplainedConn): FilterExplanation {
    const keyValue = this.keyOf(c);
    const count = this.counters.peek(this.prefix + keyValue);
    const limits = { key: keyValue, conn: this.conn, burst: this.max - this.conn };
    if (count === null) {
      return { admits: 'unknown', reason: `the count of key ${keyValue} is held by worker 0`, facts: { ...limits, count: null } };
    }
    const n = count + 1;
    const facts = { ...limits, count };
    if (n > this.max) {
      return { admits: false, reason: `key ${keyValue} has ${count} connections, conn + burst is ${this.max}: would be refused (503)`, facts: { ...facts, decision: 'refused' } };
    }
    const delay = burstDelayMs(n, this.conn, this.delaySeconds);
    if (delay >= 1) {
      return { admits: true, reason: `key ${keyValue} has ${count} connections, over conn ${this.conn}: would be delayed ${delay} ms`, facts: { ...facts, decision: 'delayed', delay_ms: delay } };
    }
    return { admits: true, reason: `key ${keyValue} has ${count} connections, conn is ${this.conn}: would be admitted`, facts: { ...facts, decision: 'admitted' } };
  }

  log(done: { conn: FilterConn }): void {
    const key = done.conn.getState(NAME);
    if (typeof key === 'string') {
      done.conn.setState(NAME, undefined);
      this.counters.release(key);
    }
  }
}

const encoder = new TextEncoder();

export const limitConn: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  schema,
  jsonSchema: {
    type: 'object',
    properties: {
      conn: { type: 'integer', exclusiveMinimum: 0 },
      burst: { type: 'integer', minimum: 0 },
      default_conn_delay: { type: 'number', exclusiveMinimum: 0 },
      only_use_default_delay: { type: 'boolean', default: false },
      key: { type: 'string' },
      key_type: { type: 'string', enum: ['var', 'var_combination'], default: 'var' },
    },
    required: ['conn', 'burst', 'default_conn_delay', 'key'],
  },

  compile(conf, ctx): StreamFilter {
    const route: RouteVars = { routeId: ctx.routeId, serviceId: ctx.route.service_id === undefined ? undefined : String(ctx.route.service_id) };
    const version = computeCrc32c(encoder.encode(JSON.stringify(conf))).toString(16);
    return new LimitConnFilter(
      ctx.counters,
      `${ctx.routeKey}:${version}:`,
      compileKey(conf, route),
      conf.conn as number,
      conf.burst as number,
      conf.default_conn_delay as number,
    );
  },
};
