// Route plugins compiled at snapshot build: priority order, _meta.disable, plugins outside stream_plugins,
// chains reused while nothing they depend on changed (route text, plugin_metadata, named upstreams), services
// merged in first; after a swap, filters no longer served are disposed (a syslog queue sent to a real UDP
// collector) and the metrics forget what is gone; weir check's look at services and plugin_metadata.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { JsonObject } from '../../src/lib/json';
import { FilterCompiler } from '../../src/plugins/compile';
import { LocalConnCounters } from '../../src/plugins/conn-counters';
import { DEFAULT_PLUGINS, PluginSet } from '../../src/plugins/registry';
import { buildServedSnapshot } from '../../src/plugins/snapshot';
import { NO_FILTERS, type FilterChain, type FinishedConn } from '../../src/proxy/filter/types';
import { runLog } from '../../src/proxy/filter/chain';
import { StreamMetrics } from '../../src/metrics/stream-metrics';
import { checkPluginObjects } from '../../src/plugins/check-objects';
import { until, wait } from '../helpers/udp';
import { freePort } from '../helpers/net';
import { testConn } from './conn';
import type { Snapshot } from '../../src/snapshot/types';
import type { StoreChanges, StoreContents, StoredObject } from '../../src/store/types';
import { updateSnapshot } from '../../src/snapshot/build';

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

/** An incremental build as the holder runs it (no beginBuild): route rows written (a row) or deleted (an id). */
function update(c: FilterCompiler, prev: Snapshot, routes: Array<StoredObject | string>) {
  const changes: StoreChanges = {
    revision: prev.revision + 1,
    changes: routes.map((r) => (typeof r === 'string' ? { res: 'stream_routes', id: r, row: null, unreadable: null } : { res: 'stream_routes', id: r.id, row: r, unreadable: null })),
  };
  return updateSnapshot(prev, changes, c.deps);
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

  it('reconfigure (a plugin reload): routes naming a changed plugin compile again, the others keep their chains', () => {
    const c = compiler(new PluginSet(['limit-conn', 'ip-restriction']));
    const routes = [row('a', { upstream: UP, plugins: { 'ip-restriction': ALLOW } }), row('b', { upstream: UP, plugins: { 'limit-conn': LIMIT } }), row('c', { upstream: UP, plugins: { syslog: { host: '127.0.0.1', port: 1 } } })];
    const one = build(c, { streamRoutes: routes });
    assert.deepEqual(one.problems, ['stream_routes/c: plugin syslog is not in stream_plugins; the route runs without it']);
    // ip-restriction out, syslog in: a and c compile again, b keeps its chain (and its counters)
    c.reconfigure(new PluginSet(['limit-conn', 'syslog']), {}, null, ['ip-restriction', 'syslog']);
    const two = build(c, { streamRoutes: routes }, one.snapshot);
    const names = (s: Snapshot) => s.routes.map((r) => r.filters.access.map((f) => f.name).concat(r.filters.log.map((f) => `log:${f.name}`)));
    assert.deepEqual(names(two.snapshot), [[], ['limit-conn', 'log:limit-conn'], ['log:syslog']]);
    assert.equal(two.snapshot.routes[1]!.filters, one.snapshot.routes[1]!.filters);
    assert.deepEqual(two.problems, ['stream_routes/a: plugin ip-restriction is not in stream_plugins; the route runs without it']);
    assert.equal(c.plugins.get('ip-restriction'), undefined, 'validation uses the new set');
    // 'all' (the metrics object changed): every chain compiles again
    c.reconfigure(c.plugins, {}, null, 'all');
    const three = build(c, { streamRoutes: routes }, two.snapshot);
    assert.notEqual(three.snapshot.routes[1]!.filters, two.snapshot.routes[1]!.filters);
    c.afterSwap(three.snapshot);
    void c.dispose(0);
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

describe('FilterCompiler.afterSwap and dispose', () => {
  let collector: Socket;
  let port: number;
  const received: string[] = [];
  before(async () => {
    collector = createSocket('udp4');
    collector.on('message', (msg) => void received.push(msg.toString()));
    await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
    port = collector.address().port;
  });
  after(() => collector.close());

  /** A syslog conf whose batches would wait a minute for more entries. */
  const slowSyslog = () => ({ host: '127.0.0.1', port, sock_type: 'udp', batch_max_size: 100, inactive_timeout: 60, buffer_duration: 60 });
  const entriesOf = (id: string) => received.filter((line) => line.includes(`"route_id":"${id}"`)).length;
  /** One finished connection through the route's chain: its syslog entry is queued. */
  const finish = (snapshot: Snapshot, id: string): FilterChain => {
    const route = snapshot.routes.find((r) => r.id === id)!;
    const done: FinishedConn = { conn: testConn(), info: testConn().info, route, node: null, startedAt: Date.now(), bytesFromClient: 1, bytesToClient: 1, end: 'closed' };
    runLog(route.filters, done);
    return route.filters;
  };

  it('a route deleted: its queued syslog entry goes at once; an unchanged route keeps its chain and its queue', async () => {
    const c = compiler();
    const a = row('a', { upstream: UP, plugins: { syslog: slowSyslog() } });
    const b = row('b', { upstream: UP, plugins: { syslog: slowSyslog() } });
    const one = build(c, { streamRoutes: [a, b] });
    c.afterSwap(one.snapshot);
    finish(one.snapshot, 'a');
    const chainB = finish(one.snapshot, 'b');
    await wait(50);
    assert.equal(entriesOf('a') + entriesOf('b'), 0, 'both wait for their batch timers');
    const two = build(c, { streamRoutes: [b] }, one.snapshot);
    c.afterSwap(two.snapshot);
    await until(() => entriesOf('a') === 1, 5000, "route a's entry");
    assert.equal(two.snapshot.routes[0]!.filters, chainB, 'b kept its chain');
    await wait(50);
    assert.equal(entriesOf('b'), 0, "b's batch still waits");
    // a is written again with the same text: a new chain, not the disposed one
    const three = build(c, { streamRoutes: [a, b] }, two.snapshot);
    c.afterSwap(three.snapshot);
    assert.notEqual(three.snapshot.routes[0]!.filters, one.snapshot.routes[0]!.filters);
    // shutdown: every queue goes, and dispose resolves once it went
    finish(three.snapshot, 'a');
    await c.dispose(5000);
    await until(() => entriesOf('a') === 2 && entriesOf('b') === 1, 5000, 'the entries queued at shutdown');
  });

  it('an incremental swap disposes exactly the replaced and the deleted routes\' chains; the others keep theirs', async () => {
    const c = compiler();
    const [a, b, d] = ['inc-a', 'inc-b', 'inc-d'].map((id) => row(id, { upstream: UP, plugins: { syslog: slowSyslog() } }));
    const one = build(c, { streamRoutes: [a!, b!, d!] });
    c.afterSwap(one.snapshot, one.routeKeys);
    const chainA = finish(one.snapshot, 'inc-a');
    finish(one.snapshot, 'inc-b');
    finish(one.snapshot, 'inc-d');
    // b written with another text, d deleted, a untouched
    const b2 = row('inc-b', { upstream: UP, plugins: { syslog: { ...slowSyslog(), batch_max_size: 99 } } });
    const two = update(c, one.snapshot, [b2, 'inc-d']);
    assert.deepEqual(two.routeKeys!.sort(), ['/apisix/stream_routes/inc-b', '/apisix/stream_routes/inc-d']);
    c.afterSwap(two.snapshot, two.routeKeys);
    await until(() => entriesOf('inc-b') === 1 && entriesOf('inc-d') === 1, 5000, "the entries of b's old chain and of d");
    assert.equal(two.snapshot.routes.find((r) => r.id === 'inc-a')!.filters, chainA, 'a kept its chain');
    await wait(50);
    assert.equal(entriesOf('inc-a'), 0, "a's batch still waits");
    // d written again with its old text: the cache forgot its disposed chain, so it gets a new one
    const three = update(c, two.snapshot, [d!]);
    c.afterSwap(three.snapshot, three.routeKeys);
    const chainD = finish(three.snapshot, 'inc-d');
    assert.notEqual(chainD, one.snapshot.routes.find((r) => r.id === 'inc-d')!.filters);
    // a route that loses its plugins: its chain is disposed too
    const four = update(c, three.snapshot, [row('inc-a', { upstream: UP })]);
    c.afterSwap(four.snapshot, four.routeKeys);
    await until(() => entriesOf('inc-a') === 1, 5000, "a's entry, once its plugins are gone");
    assert.equal(four.snapshot.routes.find((r) => r.id === 'inc-a')!.filters, NO_FILTERS);
    // a full reload after incremental swaps: d dropped, b kept
    const chainB = four.snapshot.routes.find((r) => r.id === 'inc-b')!.filters;
    finish(four.snapshot, 'inc-b');
    const five = build(c, { streamRoutes: [row('inc-a', { upstream: UP }), b2] }, four.snapshot);
    assert.equal(five.routeKeys, null);
    c.afterSwap(five.snapshot, five.routeKeys);
    await until(() => entriesOf('inc-d') === 2, 5000, "d's second entry, at the full reload");
    assert.equal(five.snapshot.routes.find((r) => r.id === 'inc-b')!.filters, chainB, 'b kept its chain across the full build');
    await wait(50);
    assert.equal(entriesOf('inc-b'), 1, "b's second entry still waits");
    await c.dispose(5000);
    await until(() => entriesOf('inc-b') === 2, 5000, "b's entry, at shutdown");
    assert.deepEqual(['inc-a', 'inc-b', 'inc-d'].map(entriesOf), [1, 2, 2], 'each entry sent once');
  });

  it('dispose(ms) is bounded: a collector that is down, with retries a second apart, does not hold the shutdown', async () => {
    const c = compiler();
    const closed = await freePort(); // nothing listens: every attempt is refused at once, then waits retry_delay
    const conf = { host: '127.0.0.1', port: closed, batch_max_size: 100, inactive_timeout: 60, max_retry_count: 5, retry_delay: 1 };
    const one = build(c, { streamRoutes: [row('t', { upstream: UP, plugins: { syslog: conf } })] });
    c.afterSwap(one.snapshot);
    finish(one.snapshot, 't');
    const started = performance.now();
    await c.dispose(300);
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 2000, `dispose waited ${took.toFixed(0)} ms`);
  });

  it('the metrics forget a route that is gone and keep the counts of the others', () => {
    const metrics = new StreamMetrics();
    const c = new FilterCompiler(new PluginSet(['prometheus']), new LocalConnCounters(), {}, metrics);
    const one = build(c, { streamRoutes: [row('a', { upstream: UP, plugins: { prometheus: {} } }), row('b', { upstream: UP, plugins: { prometheus: {} } })] });
    c.afterSwap(one.snapshot);
    for (const r of one.snapshot.routes) r.filters.meter!.finished(r.upstream!.nodes[0]!, 1, 1);
    const two = build(c, { streamRoutes: [row('b', { upstream: UP, plugins: { prometheus: {} } })] }, one.snapshot);
    c.afterSwap(two.snapshot);
    const routes = metrics.collect().find((f) => f.name === 'apisix_stream_connection_total')!.samples;
    assert.deepEqual(routes.map((s) => [s.labels, s.value]), [[['b'], 1]]);
  });
});

describe("weir check's services and plugin_metadata", () => {
  it('names each bad service and metadata row by id; an unused service is compiled too', () => {
    const c = compiler();
    const parts = {
      upstreams: [row('u', UP)],
      services: [
        row('ok', { upstream_id: 'u', plugins: { 'ip-restriction': ALLOW } }),
        row('bad-conf', { plugins: { 'limit-conn': { conn: 0 } } }),
        row('ghost', { upstream_id: 'nope' }),
        row('split', { plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'gone' }] }] } } }),
      ],
      pluginMetadata: [row('syslog', { log_format: 'x' }), row('no-such-plugin', {}), row('limit-conn', { any: 1 })],
    };
    const { snapshot } = build(c, parts);
    const problems = checkPluginObjects(contents(parts), snapshot, c, null);
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0]!, /^services\/bad-conf: failed to check the configuration of stream plugin \[limit-conn\]: property "conn" validation failed/);
    assert.equal(problems[1], 'services/ghost: upstream nope not found');
    assert.equal(problems[2], 'services/split: traffic-split: upstream gone not found or cannot forward');
    assert.equal(problems[3], 'plugin_metadata/no-such-plugin: invalid plugin name');
    assert.match(problems[4]!, /^plugin_metadata\/syslog: invalid configuration: property "log_format" validation failed/);
  });
});
