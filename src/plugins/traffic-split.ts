// traffic-split (APISIX priority 966; a stream plugin since apache/apisix#12630): the first rule whose `match`
// holds (a rule without `match` always does) chooses among its `weighted_upstreams` by weight (smooth weighted
// round robin); an entry with neither `upstream` nor `upstream_id` means the route's own upstream. No rule
// matching leaves the route's upstream. The choice reaches the connect phase through FilterConn.setUpstream.
// `match[].vars` are lua-resty-expr expressions over the stream variables (remote_addr, server_port, route_id...).

import * as v from 'valibot';
import type { JsonObject } from '../lib/json';
import type { AccessVerdict, ExplainedConn, FilterConn, FilterExplanation, StreamFilter } from '../proxy/filter/types';
import { arrayOf, idSchema, intRange, opt } from '../schema/common';
import { checkUpstreamRules, upstreamSchema } from '../schema/upstream';
import type { CompiledUpstream } from '../snapshot/types';
import { compileExpr, type Matcher } from './expr';
import { pluginObject } from './schema';
import type { PluginModule } from './types';

const NAME = 'traffic-split';
const PRIORITY = 966;

const weightedUpstreamSchema = pluginObject({
  upstream_id: opt(idSchema()),
  upstream: opt(upstreamSchema),
  weight: opt(intRange(0)),
});

/** `vars` must be a JSON array (jsonschema `type: array`); its contents are checked by compileExpr. */
const matchSchema = arrayOf(pluginObject({ vars: opt(arrayOf(v.unknown() as never)) }));

const SCHEMA = pluginObject({
  rules: opt(arrayOf(pluginObject({
    match: opt(matchSchema),
    weighted_upstreams: opt(v.pipe(arrayOf(weightedUpstreamSchema, 1), v.check((a) => (a as unknown[]).length <= 20, 'expect array to have at most 20 items'))),
  }))),
});

/** One choice of a rule: an upstream of the plugin's, or null for the route's own. */
interface Choice {
  weight: number;
  /** Compiled at build; null with `missing` set when upstream_id named nothing usable. */
  upstream: CompiledUpstream | null;
  missing: string | null;
  current: number;
}

/** The choice pick() would make next, leaving every `current` as it is (explain). */
function peekPick(choices: Choice[]): Choice | null {
  let best: Choice | null = null;
  let bestCurrent = 0;
  for (const c of choices) {
    if (c.weight === 0) continue;
    const current = c.current + c.weight;
    if (best === null || current > bestCurrent) {
      best = c;
      bestCurrent = current;
    }
  }
  return best;
}

/** How explain names an upstream: its object id, or where it is written. */
function describeUpstream(up: CompiledUpstream): string {
  const prefix = '/apisix/upstreams/';
  return up.key.startsWith(prefix) ? `upstream ${up.key.slice(prefix.length)}` : `the inline upstream ${up.key.slice(up.key.indexOf('#') + 1)}`;
}

/** Smooth weighted round robin over a rule's choices (nginx's algorithm); null when every weight is 0. */
function pick(choices: Choice[], total: number): Choice | null {
  if (total === 0) return null;
  let best: Choice | null = null;
  for (const c of choices) {
    if (c.weight === 0) continue;
    c.current += c.weight;
    if (best === null || c.current > best.current) best = c;
  }
  best!.current -= total;
  return best;
}

interface Rule {
  /** null: the rule always matches. */
  matchers: Matcher[] | null;
  choices: Choice[];
  total: number;
}

class TrafficSplitFilter implements StreamFilter {
  readonly name = NAME;
  readonly priority = PRIORITY;
  readonly setsUpstream = true;
  readonly upstreams: readonly CompiledUpstream[];
  constructor(private readonly rules: Rule[]) {
    this.upstreams = rules.flatMap((r) => r.choices.flatMap((c) => (c.upstream === null ? [] : [c.upstream])));
  }

  /** Which rule the connection meets first and where its weights send the next connection; nothing moves. */
  explain(c: ExplainedConn): FilterExplanation {
    for (let r = 0; r < this.rules.length; r++) {
      const rule = this.rules[r]!;
      if (rule.matchers !== null && !rule.matchers.some((m) => m(c))) continue;
      const facts = { rule: r + 1 };
      const choice = rule.total === 0 ? null : peekPick(rule.choices);
      if (choice === null) return { admits: true, reason: `rule ${r + 1} matches; every weight is 0: the route's upstream`, facts: { ...facts, upstream: null } };
      const share = `weight ${choice.weight} of ${rule.total}`;
      if (choice.missing !== null) {
        return { admits: false, reason: `rule ${r + 1} matches and picks upstream ${choice.missing} (${share}), which cannot be fetched (500)`, facts: { ...facts, upstream: choice.missing } };
      }
      if (choice.upstream === null) return { admits: true, reason: `rule ${r + 1} matches and picks the route's upstream (${share})`, facts: { ...facts, upstream: null } };
      const name = describeUpstream(choice.upstream);
      return { admits: true, reason: `rule ${r + 1} matches and picks ${name} (${share})`, facts: { ...facts, upstream: name }, upstream: choice.upstream };
    }
    return { admits: true, reason: this.rules.length === 0 ? "no rules: the route's upstream" : "no rule matches: the route's upstream", facts: { rule: null, upstream: null } };
  }

  access(c: FilterConn): AccessVerdict {
    for (const rule of this.rules) {
      if (rule.matchers !== null && !rule.matchers.some((m) => m(c))) continue;
      const choice = pick(rule.choices, rule.total);
      if (choice === null) return undefined;
      if (choice.missing !== null) return { code: 500, reason: `traffic-split: failed to fetch upstream info by upstream id: ${choice.missing}` };
      if (choice.upstream !== null) c.setUpstream(choice.upstream);
      return undefined;
    }
    return undefined;
  }
}

export const trafficSplit: PluginModule = {
  name: NAME,
  priority: PRIORITY,
  schema: SCHEMA,
  jsonSchema: {
    type: 'object',
    properties: {
      rules: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            match: { type: 'array', items: { type: 'object', properties: { vars: { type: 'array' } } } },
            weighted_upstreams: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  upstream_id: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' }, { type: 'integer', minimum: 1 }] },
                  upstream: { type: 'object', description: 'an upstream object, as /apisix/admin/upstreams takes it' },
                  weight: { description: 'used to split traffic between different upstreams for plugin configuration', type: 'integer', default: 1, minimum: 0 },
                },
              },
              default: [{ weight: 1 }],
              minItems: 1,
              maxItems: 20,
            },
          },
        },
      },
    },
  },

  /** Each match's `vars` must compile (APISIX: expr.new), and each inline upstream pass the upstream rules. */
  check(conf) {
    const rules = (conf.rules ?? []) as JsonObject[];
    for (let r = 0; r < rules.length; r++) {
      for (const m of (rules[r]!.match ?? []) as JsonObject[]) {
        const expr = compileExpr(m.vars);
        if (!expr.ok) return `failed to validate the 'vars' expression: ${expr.error}`;
      }
      const ups = (rules[r]!.weighted_upstreams ?? []) as JsonObject[];
      for (let i = 0; i < ups.length; i++) {
        const up = ups[i]!.upstream;
        if (up === undefined) continue;
        const bad = checkUpstreamRules(up as JsonObject, []);
        if (bad !== null) return `property "rules" validation failed: failed to validate item ${r + 1}: property "weighted_upstreams" validation failed: failed to validate item ${i + 1}: property "upstream" validation failed: ${bad}`;
      }
    }
    return null;
  },

  compile(conf, ctx): StreamFilter {
    const routeVars = { routeId: ctx.routeId, serviceId: ctx.route.service_id === undefined ? undefined : String(ctx.route.service_id) };
    const rules: Rule[] = ((conf.rules ?? []) as JsonObject[]).map((rule, r) => {
      const matchers = rule.match === undefined ? null : (rule.match as JsonObject[]).map((m) => {
        const expr = compileExpr(m.vars, routeVars);
        if (!expr.ok) throw new Error(`failed to validate the 'vars' expression: ${expr.error}`);
        return expr.match;
      });
      // APISIX's schema default: without weighted_upstreams, the route's own upstream at weight 1
      const entries = (rule.weighted_upstreams ?? [{ weight: 1 }]) as JsonObject[];
      const choices: Choice[] = entries.map((e, i) => {
        const weight = typeof e.weight === 'number' ? e.weight : 1;
        if (e.upstream_id !== undefined) {
          const id = String(e.upstream_id);
          const upstream = ctx.upstreamById(id);
          if (upstream === null) ctx.problem(`traffic-split: upstream ${id} not found or cannot forward`);
          return { weight, upstream, missing: upstream === null ? id : null, current: 0 };
        }
        if (e.upstream !== undefined) {
          const upstream = ctx.compileUpstream(`${ctx.routeKey}#traffic-split/${r + 1}/${i + 1}`, e.upstream as JsonObject);
          return { weight, upstream, missing: upstream === null ? `(inline upstream ${r + 1}/${i + 1})` : null, current: 0 };
        }
        return { weight, upstream: null, missing: null, current: 0 };
      });
      return { matchers, choices, total: choices.reduce((sum, c) => sum + c.weight, 0) };
    });
    return new TrafficSplitFilter(rules);
  },
};
