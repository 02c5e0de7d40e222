// The inspection routes mounted on demand: the paths the Admin API forwards are exactly the ones
// mountInspect serves, so no route is lost (or shadowed) by loading src/admin/inspect.ts late.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type IRequest } from 'itty-router';
import { mountInspect } from '../../src/admin/inspect';
import { INSPECT_PATHS, mountInspectOnDemand } from '../../src/admin/inspect-on-demand';
import { OPEN_IDENTITY, type AdminIdentity } from '../../src/admin/scope';

const deps = { sources: null, cors: false, streamEnabled: true };

function routesOf(mount: (r: ReturnType<typeof Router<IRequest, [URL, AdminIdentity]>>) => void): Array<[string, string]> {
  const router = Router<IRequest, [URL, AdminIdentity]>();
  mount(router);
  return (router.routes as unknown as Array<[string, RegExp, unknown, string]>).map(([method, , , path]) => [method, path]);
}

describe('mountInspectOnDemand', () => {
  it('forwards every path mountInspect serves, and no other', () => {
    const eager = [...new Set(routesOf((r) => mountInspect(r, deps)).map(([, path]) => path))].sort();
    assert.deepEqual([...INSPECT_PATHS].sort(), eager);
  });

  it('mounts one catch-all-methods route per path, in the order given', () => {
    assert.deepEqual(
      routesOf((r) => mountInspectOnDemand(r, deps)),
      INSPECT_PATHS.map((path) => ['ALL', path]),
    );
  });

  it('answers through the module loaded at the first request; a method it has no route for falls through', async () => {
    const router = Router<IRequest, [URL, AdminIdentity]>();
    mountInspectOnDemand(router, deps);
    router.all('*', () => new Response('next route', { status: 299 }));
    const call = async (method: string, path: string): Promise<[number, string]> => {
      const url = new URL(`http://127.0.0.1${path}`);
      const res = (await router.fetch(new Request(url, { method }) as unknown as IRequest, url, OPEN_IDENTITY)) as Response;
      return [res.status, await res.text()];
    };
    // no proxy in this process (sources null): the views answer 503, as mounted eagerly
    assert.deepEqual(await call('DELETE', '/v1/connections/7'), [503, '{"error_msg":"the proxy is not running in this process"}']);
    assert.deepEqual(await call('DELETE', '/v1/udp_sessions/7'), [503, '{"error_msg":"the proxy is not running in this process"}']);
    assert.deepEqual(await call('POST', '/v1/connections'), [299, 'next route']);
    assert.deepEqual(await call('PUT', '/apisix/admin/stream_routes/explain'), [299, 'next route']);
  });
});
