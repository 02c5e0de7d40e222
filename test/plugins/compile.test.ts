// Route plugins compiled at snapshot build: priority order, _meta.disable, plugins outside stream_plugins,
// chains reused while nothing they depend on changed (route text, plugin_metadata, named upstreams), services
// merged in first.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/lib/json';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { DEFAULT_PLUGINS, PluginSet } from '../../src/plugins/registry';
import { buildServedSnapshot } from '../../src/plugins/snapshot';
import { NO_FILTERS } from '../../src/proxy/filter/types';
import type { Snapshot } from '../../src/snapshot/types';
import type { StoreContents, StoredObject } from '../../src/store/types';

const UP = { nodes: { '127.0.0.1:1995': 1 } };
const ALLOW = { whitelist: ['127.0.0.1'] };
const LIMIT = { conn: 1, burst: 0, default_conn_delay: 0.1, key: 'remote_addr' };

function row(id: string, value: JsonObject): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}

function contents(parts: Partial<Record<'streamRoutes' | 'upstreams' | 'services' | 'pluginMetadata', StoredObject[]>>): StoreContents {
  return { revision: 1, streamRoutes: [], upstreams: [], ssls: [], services: [], pluginMetadata: [], unreadable: [], ...parts };
}

function build(c: FilterCompiler, parts: Parameters<typeof contents>[0], prev: Snapshot | null = null) {
  return buildServedSnapshot(contents(parts), prev, c);
}

const compiler = (set = DEFAULT_PLUGINS) => new FilterCompiler(set, new LocalConnCounters());

describe('FilterCompiler', () => {
  it('a route without plugins gets NO_FILTERS; with plugins, a chain in priority order', () => {
    const { snapshot, problems } = build(compiler(), {
      streamRoutes: [
        row('plain', { upstream: UP }),
        row('p', { upstream: UP, plugins: { 'traffic-split': {}, 'limit-conn': LIMIT, 'ip-restriction': ALLOW, 'limit-bandwidth': { rate: 10 } } }),
      ],
    });
    assert.deepEqual(problems, []);
    const [p, plain] = snapshot.routes; // id order
    assert.equal(plain!.filters, NO_FILTERS);
    assert.deepEqual(p!.filters.access.map((f) => f.name), ['ip-restriction', 'limit-conn', 'limit-bandwidth', 'traffic-split']);
    assert.deepEqual(p!.filters.log.map((f) => f.name), ['limit-conn']);
    assert.equal(p!.filters.setsUpstream, true);
  });

  it('_meta.disable: true leaves a plugin out', () => {
    const { snapshot } = build(compiler(), { streamRoutes: [row('p', { upstream: UP, plugins: { 'ip-restriction': { ...ALLOW, _meta: { disable: true } }, 'limit-conn': LIMIT } })] });
    assert.deepEqual(snapshot.routes[0]!.filters.access.map((f) => f.name), ['limit-conn']);
  });

  it('a plugin taken out of stream_plugins: the route is served without it, and the build says so', () => {
    const { snapshot, problems } = build(compiler(new PluginSet(['limit-conn'])), { streamRoutes: [row('p', { upstream: UP, plugins: { 'ip-restriction': ALLOW, 'limit-conn': LIMIT } })] });
    assert.deepEqual(snapshot.routes[0]!.filters.access.map((f) => f.name), ['limit-conn']);
    assert.deepEqual(problems, ['stream_routes/p: plugin ip-restriction is not in stream_plugins; the route runs without it']);
  });

  it('a stored conf its plugin refuses skips the route (as a bad row)', () => {
    const { snapshot, problems } = build(compiler(), { streamRoutes: [row('p', { upstream: UP, plugins: { 'limit-conn': { conn: 0 } } })] });
    assert.equal(snapshot.routes.length, 0);
    assert.match(problems[0]!, /^stream_routes\/p: skipped: failed to check the configuration of stream plugin \[limit-conn\]: /);
  });

  it('reuses a chain while the route, its plugin_metadata and its upstreams are unchanged', () => {
    const c = compiler();
    const routes = [row('p', { upstream: UP, plugins: { 'limit-conn': LIMIT } }), row('s', { plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'u' }] }] } } })];
    const ups = [row('u', UP)];
    const one = build(c, { streamRoutes: routes, upstreams: ups });
    const two = build(c, { streamRoutes: routes, upstreams: ups }, one.snapshot);
    assert.equal(two.snapshot.routes[0]!.filters, one.snapshot.routes[0]!.filters);
    assert.equal(two.snapshot.routes[1]!.filters, one.snapshot.routes[1]!.filters);
    // metadata of a plugin the route uses
    const three = build(c, { streamRoutes: routes, upstreams: ups, pluginMetadata: [row('limit-conn', { x: 1 })] }, two.snapshot);
    assert.notEqual(three.snapshot.routes[0]!.filters, two.snapshot.routes[0]!.filters);
    assert.equal(three.snapshot.routes[1]!.filters, two.snapshot.routes[1]!.filters);
    // an upstream traffic-split names
    const four = build(c, { streamRoutes: routes, upstreams: [row('u', { nodes: { '127.0.0.1:1996': 1 } })], pluginMetadata: [row('limit-conn', { x: 1 })] }, three.snapshot);
    assert.equal(four.snapshot.routes[0]!.filters, three.snapshot.routes[0]!.filters);
    assert.notEqual(four.snapshot.routes[1]!.filters, three.snapshot.routes[1]!.filters);
    // the route's own text
    const five = build(c, { streamRoutes: [row('p', { upstream: UP, plugins: { 'limit-conn': { ...LIMIT, conn: 2 } } }), routes[1]!] }, four.snapshot);
    assert.notEqual(five.snapshot.routes[0]!.filters, four.snapshot.routes[0]!.filters);
  });

  it('a traffic-split route needs no upstream of its own; one whose upstream_id is gone is named', () => {
    const split = { rules: [{ weighted_upstreams: [{ upstream: UP, weight: 1 }] }] };
    const { snapshot, problems } = build(compiler(), {
      streamRoutes: [row('a', { plugins: { 'traffic-split': split } }), row('b', { plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'gone' }] }] } } })],
    });
    assert.deepEqual(snapshot.routes.map((r) => [r.id, r.upstream, r.problem]), [['a', null, null], ['b', null, null]]);
    assert.deepEqual(problems, ['stream_routes/b: traffic-split: upstream gone not found or cannot forward']);
  });
});

describe('services merged into routes', () => {
  const svc = row('s', { upstream: { nodes: { '127.0.0.1:2000': 1 } }, plugins: { 'ip-restriction': ALLOW, 'limit-conn': LIMIT } });

  it('the route takes the service upstream and plugins; its own plugin of the same name wins', () => {
    const { snapshot, problems } = build(compiler(), {
      services: [svc],
      streamRoutes: [row('r', { service_id: 's', plugins: { 'limit-conn': { ...LIMIT, conn: 5 } } })],
    });
    assert.deepEqual(problems, []);
    const r = snapshot.routes[0]!;
    assert.equal(r.upstream!.nodes[0]!.port, 2000);
    assert.deepEqual(r.filters.access.map((f) => f.name), ['ip-restriction', 'limit-conn']);
    assert.equal((r.filters.access[1] as unknown as { max: number }).max, 5);
  });

  it("the route's own upstream (inline or by id) wins over the service's", () => {
    const { snapshot } = build(compiler(), {
      services: [svc],
      upstreams: [row('u', { nodes: { '127.0.0.1:3000': 1 } })],
      streamRoutes: [row('a', { service_id: 's', upstream: { nodes: { '127.0.0.1:4000': 1 } } }), row('b', { service_id: 's', upstream_id: 'u' })],
    });
    assert.deepEqual(snapshot.routes.map((r) => r.upstream!.nodes[0]!.port), [4000, 3000]);
  });

  it("a service's upstream_id serves routes without one", () => {
    const { snapshot } = build(compiler(), {
      services: [row('s', { upstream_id: 'u' })],
      upstreams: [row('u', { nodes: { '127.0.0.1:3000': 1 } })],
      streamRoutes: [row('a', { service_id: 's' })],
    });
    assert.equal(snapshot.routes[0]!.upstream!.key, '/apisix/upstreams/u');
  });

  it('a changed service recompiles the routes using it; a missing one skips them', () => {
    const c = compiler();
    const routes = [row('r', { service_id: 's' })];
    const one = build(c, { services: [svc], streamRoutes: routes });
    const two = build(c, { services: [row('s', { ...svc.value, plugins: { 'limit-conn': LIMIT } })], streamRoutes: routes }, one.snapshot);
    assert.deepEqual(two.snapshot.routes[0]!.filters.access.map((f) => f.name), ['limit-conn']);
    const three = build(c, { services: [], streamRoutes: routes }, two.snapshot);
    assert.equal(three.snapshot.routes.length, 0);
    assert.deepEqual(three.problems, ['stream_routes/r: skipped: failed to fetch service configuration by id: s']);
  });
});
