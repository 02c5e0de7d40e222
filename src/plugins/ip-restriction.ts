// ip-restriction (APISIX priority 3000): refuse clients by address before anything else runs. `whitelist` or
// `blacklist` (exactly one), IPs and CIDRs, IPv4 and IPv6. A refused TCP client is closed before any upstream
// connect; a refused UDP datagram is dropped. `message` and `response_code` mean nothing at L4 (nothing is
// sent): they are accepted as APISIX does, and the code goes to the log (403 by default).

import * as v from 'valibot';
import type { JsonObject } from '../lib/json';
import type { AccessVerdict, FilterConn, FilterExplanation, StreamFilter } from '../proxy/filter/types';
import { IpSet } from '../proxy/match/ip-set';
import { arrayOf, intRange, opt, strLen } from '../schema/common';
import { IP_DEF_JSON, firstInvalidIp, ipDefSchema, pluginObject } from './schema';
import type { PluginModule } from './types';

const NAME = 'ip-restriction';

const listSchema = arrayOf(ipDefSchema, 1);

/** APISIX's oneOf of `{required: [whitelist]}` and `{required: [blacklist]}`, with jsonschema's two messages. */
function oneList(conf: JsonObject): string | null {
  const white = conf.whitelist !== undefined;
  const black = conf.blacklist !== undefined;
  if (white && black) return 'value should match only one schema, but matches both schemas 1 and 2';
  if (!white && !black) return 'value should match only one schema, but matches none';
  return null;
}

const schema = v.pipe(
  pluginObject({
    message: opt(strLen(1, 1024)),
    response_code: opt(intRange(403, 404)),
    whitelist: opt(listSchema),
    blacklist: opt(listSchema),
  }),
  v.check((c) => oneList(c as JsonObject) === null, (i) => oneList(i.input as JsonObject) ?? ''),
);

const ipList = { type: 'array', items: { anyOf: IP_DEF_JSON }, minItems: 1 };

export const ipRestriction: PluginModule = {
  name: NAME,
  priority: 3000,
  schema,
  jsonSchema: {
    type: 'object',
    properties: {
      message: { type: 'string', minLength: 1, maxLength: 1024, default: 'Your IP address is not allowed' },
      response_code: { type: 'integer', minimum: 403, maximum: 404, default: 403 },
      whitelist: ipList,
      blacklist: ipList,
    },
    oneOf: [{ required: ['whitelist'] }, { required: ['blacklist'] }],
  },

  /** The regexes of the schema let some bad IPv6 through; a real parser has the last word (APISIX too). */
  check(conf) {
    for (const field of ['whitelist', 'blacklist'] as const) {
      const list = conf[field];
      if (!Array.isArray(list)) continue;
      const bad = firstInvalidIp(list as string[]);
      if (bad !== null) return `invalid ip address: ${bad}`;
    }
    return null;
  },

  compile(conf): StreamFilter {
    const code = typeof conf.response_code === 'number' ? conf.response_code : 403;
    const allow = Array.isArray(conf.whitelist);
    const set = new IpSet((allow ? conf.whitelist : conf.blacklist) as string[]);
    const refuse = (c: FilterConn): AccessVerdict => ({ code, reason: `ip-restriction: client ${c.info.remoteAddr} is not allowed` });
    const list = allow ? 'whitelist' : 'blacklist';
    return {
      name: NAME,
      priority: 3000,
      access: allow
        ? (c) => (set.has(c.info.remoteAddr) ? undefined : refuse(c))
        : (c) => (set.has(c.info.remoteAddr) ? refuse(c) : undefined),
      explain(c): FilterExplanation {
        const listed = set.has(c.info.remoteAddr);
        const admits = listed === allow;
        const where = `${listed ? 'in' : 'not in'} the ${list}`;
        return {
          admits,
          reason: admits ? `client ${c.info.remoteAddr} is ${where}: allowed` : `client ${c.info.remoteAddr} is ${where}: denied (${code})`,
          facts: { list, listed, ...(admits ? {} : { code }) },
        };
      },
    };
  },
};
