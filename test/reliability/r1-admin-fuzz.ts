// R1 Admin API fuzz: generated and broken requests (methods, paths, bodies from valid objects, fc.json, prototype
// keys, deep nesting, 2^53+1, bad UTF-8, oversized bodies) sent in process to the admin handler, then a share over
// real HTTP. Figures: 0 throws, 0 responses >= 500, 0 store changes on a 4xx, every 2xx write reads back equal.

import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { createAdminApp } from '../../src/admin/app';
import { MAX_BODY_BYTES } from '../../src/admin/respond';
import { configureErrorLog } from '../../src/log/logger';
import { serveHttp } from '../../src/runtime/index';
import { tempStore } from '../objects/fixtures';
import { KEYS, ADMIN_KEY, testConfig } from '../admin/harness';
import { FigureSheet, isMain, rssKiB, runAsScript, saveCorpus, type Figures, type Size } from './harness';


const RES = ['stream_routes', 'upstreams', 'ssls', 'routes', 'protos', '', 'schema/validate/upstreams', 'schema/validate/stream_routes'];
const IDS = ['1', '2', '3', 'a-b', '', '..', '%2F', '%2e%2e', '1/nodes', '1/upstream/nodes', '%00', 'x'.repeat(300), '\u00e9', '1?force=true', '1?ttl=5'];
// (TRACE and CONNECT cannot be built with fetch's Request; R12 sends them raw)
const METHODS = ['GET', 'PUT', 'PUT', 'POST', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'get', 'put'];

const node = fc.constantFrom('127.0.0.1:1980', '127.0.0.1:1981', '[::1]:80', 'localhost:99999', '');
const upstreamObj = fc.record(
  {
    type: fc.constantFrom('roundrobin', 'chash', 'least_conn', 'ewma', 'bogus'),
    nodes: fc.oneof(fc.dictionary(node, fc.oneof(fc.integer({ min: -1, max: 100 }), fc.constant(2 ** 53 + 1))), fc.array(fc.record({ host: fc.constantFrom('127.0.0.1', '::1', ''), port: fc.integer({ min: -1, max: 70000 }), weight: fc.integer({ min: -1, max: 10 }) }))),
    key: fc.constantFrom('remote_addr', 'sni', 'x'),
    retries: fc.integer({ min: -2, max: 5 }),
    timeout: fc.record({ connect: fc.double({ min: -1, max: 10, noNaN: true }), send: fc.constant(1), read: fc.constant(1) }),
    name: fc.string(),
    desc: fc.string(),
    labels: fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
  },
  { requiredKeys: [] },
);
const routeObj = fc.record(
  {
    upstream_id: fc.constantFrom('1', '2', '3', 'missing', 7),
    upstream: upstreamObj,
    remote_addr: fc.constantFrom('127.0.0.1', '10.0.0.0/8', ':/8', '::1', 'x'),
    server_port: fc.integer({ min: -1, max: 70000 }),
    sni: fc.constantFrom('a.com', '*.a.com', '', 'A.COM.'),
    plugins: fc.constantFrom({}, { 'ip-restriction': { whitelist: ['127.0.0.1'] } }, { script: 'os.execute()' }),
  },
  { requiredKeys: [] },
);
const sslObj = fc.record({ sni: fc.constantFrom('a.com', 'b.com'), cert: fc.constantFrom('', 'not a pem'), key: fc.constantFrom('', 'nope'), type: fc.constantFrom('server', 'client', 'x') }, { requiredKeys: [] });
const protoKeys = fc.constantFrom('{"__proto__":{"polluted":1},"nodes":{"127.0.0.1:1":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"nodes":{"__proto__":1}}');

/** A body: JSON text (valid objects, broken ones, junk) or raw bytes. */
const body: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(upstreamObj, routeObj, sslObj).map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: protoKeys },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('{"nodes":{"127.0.0.1:1":9007199254740993}}', '{"retries":1e400}', '{"id":-0}', '') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

export interface FuzzRequest {
  method: string;
  path: string;
  body: string | Uint8Array | undefined;
  key: string | null;
}

const validUpstream = fc.record({ type: fc.constantFrom('roundrobin', 'least_conn'), nodes: fc.dictionary(fc.constantFrom('127.0.0.1:1980', '127.0.0.2:1981'), fc.integer({ min: 0, max: 9 }), { minKeys: 1 }), name: fc.string({ maxLength: 8 }) });
const validRoute = fc.oneof(
  fc.record({ upstream_id: fc.constantFrom('1', '2'), remote_addr: fc.constantFrom('127.0.0.1', '10.0.0.0/8') }, { requiredKeys: ['upstream_id'] }),
  fc.record({ upstream: fc.constant({ type: 'roundrobin', nodes: { '127.0.0.1:1980': 1 } }), server_port: fc.integer({ min: 1, max: 65535 }) }),
);

/** Requests that should mostly succeed: a real resource, a plain id, the right key, a valid body (2xx paths). */
const coherent: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.record({ method: fc.constantFrom('PUT', 'PATCH', 'POST'), id: fc.constantFrom('1', '2', '3'), b: validUpstream }).map(({ method, id, b }) => ({ method, path: `/apisix/admin/upstreams${method === 'POST' ? '' : `/${id}`}`, body: JSON.stringify(b), key: ADMIN_KEY })),
  fc.record({ method: fc.constantFrom('PUT', 'PATCH', 'POST'), id: fc.constantFrom('1', '2', '3'), b: validRoute }).map(({ method, id, b }) => ({ method, path: `/apisix/admin/stream_routes${method === 'POST' ? '' : `/${id}`}`, body: JSON.stringify(b), key: ADMIN_KEY })),
  fc.record({ method: fc.constantFrom('DELETE', 'GET'), res: fc.constantFrom('upstreams', 'stream_routes'), id: fc.constantFrom('1', '2', '3') }).map(({ method, res, id }) => ({ method, path: `/apisix/admin/${res}/${id}`, body: undefined, key: ADMIN_KEY })),
);

const wild: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.tuple(fc.constantFrom(...RES), fc.constantFrom(...IDS), fc.constantFrom('', '/', '//', '?api_key=', '?a=%ZZ')).map(([r, id, tail]) => `/apisix/admin/${r}${r && id ? `/${id}` : ''}${tail}`),
  body,
  key: fc.constantFrom<string | null>(ADMIN_KEY, ADMIN_KEY, ADMIN_KEY, null, 'wrong'),
});

export const request: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 1, arbitrary: coherent }, { weight: 2, arbitrary: wild });

function toRequest(base: string, r: FuzzRequest): Request {
  const headers: Record<string, string> = {};
  if (r.key !== null) headers['X-API-KEY'] = r.key;
  const hasBody = r.body !== undefined && !['GET', 'HEAD'].includes(r.method);
  return new Request(base + r.path, { method: r.method, headers, body: hasBody ? r.body : undefined });
}

const enc = (r: FuzzRequest): Uint8Array => new TextEncoder().encode(JSON.stringify({ ...r, body: r.body instanceof Uint8Array ? Array.from(r.body) : r.body }));

export async function runR1(size: Size, counts = size === 'short' ? { inProcess: 1500, http: 150 } : { inProcess: 100_000, http: 10_000 }): Promise<Figures> {
  configureErrorLog({ level: 'error' }); // a 500 logs its stack: keep those lines
  const sheet = new FigureSheet('R1', 'Admin API fuzz');
  const t = tempStore('weir-r1-');
  const app = createAdminApp({ store: t.store, config: testConfig(), adminKeys: KEYS, onChange: () => undefined });
  let unhandled = 0;
  const onUnhandled = (): void => void unhandled++;
  process.on('unhandledRejection', onUnhandled);
  let rss0: number | null = null;
  const warm = Math.floor(counts.inProcess / 10); // RSS growth is measured after a warm-up tenth
  let throws = 0;
  let over500 = 0;
  let changedOn4xx = 0;
  let readBackDiffers = 0;
  let writes2xx = 0;
  let unsendable = 0;
  // generated in chunks: 100,000 requests with bodies up to 100 KB would otherwise sit in memory at once
  function* samples(): Generator<FuzzRequest> {
    for (let done = 0, chunk = 0; done < counts.inProcess; chunk++) {
      const n = Math.min(1000, counts.inProcess - done);
      yield* fc.sample(request, { numRuns: n, seed: 19 + chunk });
      done += n;
    }
  }
  // The Admin API imports its object operations and inspection views at their first request (src/admin/app.ts):
  // ask for each once first, so the growth after the warm-up is what requests leave behind, not code loaded late.
  for (const path of ['/apisix/admin/stream_routes', '/apisix/admin/stream_routes/explain?server_port=9100', '/v1/connections']) {
    await (await app(new Request(`http://127.0.0.1:9180${path}`, { headers: { 'X-API-KEY': ADMIN_KEY } }), { remoteAddress: '127.0.0.1' })).text();
  }
  const t0 = Date.now();
  let i = -1;
  for (const r of samples()) {
    i++;
    if (i === warm) rss0 = rssKiB();
    const before = t.store.revision();
    let req: Request;
    try {
      req = toRequest('http://127.0.0.1:9180', r);
    } catch {
      unsendable++; // fetch's Request refuses it (not weir's doing)
      continue;
    }
    let res: Response;
    try {
      res = await app(req, { remoteAddress: '127.0.0.1' });
    } catch {
      throws++;
      saveCorpus('admin', enc(r));
      continue;
    }
    const text = await res.text();
    if (res.status >= 500) {
      over500++;
      saveCorpus('admin', enc(r));
    } else if (res.status >= 400 && t.store.revision() !== before) {
      changedOn4xx++;
      saveCorpus('admin', enc(r));
    } else if (res.status < 300 && ['PUT', 'POST', 'PATCH'].includes(r.method) && !r.path.includes('schema/validate')) {
      writes2xx++;
      const written = JSON.parse(text) as { key?: string; value?: unknown };
      if (typeof written.key === 'string') {
        const back = await app(new Request(`http://127.0.0.1:9180${written.key.replace(/^\/apisix\//, "/apisix/admin/")}`, { headers: { 'X-API-KEY': ADMIN_KEY } }), { remoteAddress: '127.0.0.1' });
        const got = (await back.json()) as { value?: unknown };
        if (!isDeepStrictEqual(got.value, written.value)) {
          readBackDiffers++;
          saveCorpus('admin', enc(r));
        }
      }
    }
  }
  const inProcessMs = Date.now() - t0;
  const rss1 = rssKiB();

  // the same generator over real HTTP
  const server = await serveHttp(app, { host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY_BYTES });
  let httpOver500 = 0;
  let httpErrors = 0;
  for (const r of fc.sample(request, { numRuns: counts.http, seed: 91 })) {
    let req: Request;
    try {
      req = toRequest(`http://127.0.0.1:${server.port}`, r);
    } catch {
      continue;
    }
    try {
      const res = await fetch(req);
      await res.arrayBuffer();
      if (res.status >= 500) httpOver500++;
    } catch (err) {
      httpErrors++;
      if (httpErrors <= 3) process.stderr.write(`R1 http: ${r.method} ${r.path}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause)}\n`);
    }
  }
  // an oversized body: answered, not buffered
  const big = await fetch(`http://127.0.0.1:${server.port}/apisix/admin/upstreams/1`, { method: 'PUT', headers: { 'X-API-KEY': ADMIN_KEY }, body: 'x'.repeat(10 * 1024 * 1024) });
  await big.arrayBuffer();
  await server.close();
  process.off('unhandledRejection', onUnhandled);
  t.close();
  const growMiB = rss0 !== null && rss1 !== null ? Math.round((rss1 - rss0) / 1024) : null;

  sheet.set('requests_in_process', counts.inProcess - unsendable).set('requests_http', counts.http).set('writes_2xx', writes2xx);
  sheet.set('requests_per_s', Math.round((counts.inProcess / inProcessMs) * 1000));
  sheet.check('throws', throws, '0', throws === 0);
  sheet.check('unhandled_rejections', unhandled, '0', unhandled === 0);
  sheet.check('responses_5xx', over500 + httpOver500, '0', over500 + httpOver500 === 0);
  sheet.check('store_changed_on_4xx', changedOn4xx, '0', changedOn4xx === 0);
  sheet.check('readback_differs', readBackDiffers, '0', readBackDiffers === 0);
  sheet.check('http_transport_errors', httpErrors, '0', httpErrors === 0);
  sheet.check('oversized_10MiB_status', big.status, '4xx', big.status >= 400 && big.status < 500);
  // A leak shows over 100,000 requests; over the short run's 1,500 the figure is the heap's growth before the
  // collector runs, which a loaded machine moved from 7 to 25 MiB with no leak: reported there, not judged.
  if (size === 'full') sheet.check('rss_growth_MiB', growMiB, '<= 20', growMiB === null || growMiB <= 20);
  else sheet.set('rss_growth_MiB', growMiB);
  return sheet.done();
}

if (isMain(import.meta.url)) {
  await runAsScript({ id: 'r1-admin-fuzz', usage: 'R1: 100,000 admin requests in process + 10,000 over HTTP (--short: 1,500 + 150).' }, runR1);
}

/** Replay one saved request (corpus/admin) in process: resolves with the status; a throw rejects. */
export async function replayAdmin(bytes: Uint8Array): Promise<number> {
  const saved = JSON.parse(new TextDecoder().decode(bytes)) as FuzzRequest & { body: string | number[] | undefined };
  const r: FuzzRequest = { ...saved, body: Array.isArray(saved.body) ? new Uint8Array(saved.body) : saved.body };
  const t = tempStore('weir-r1-replay-');
  try {
    const app = createAdminApp({ store: t.store, config: testConfig(), adminKeys: KEYS, onChange: () => undefined });
    const res = await app(toRequest('http://127.0.0.1:9180', r), { remoteAddress: '127.0.0.1' });
    await res.arrayBuffer();
    return res.status;
  } finally {
    t.close();
  }
}
