// Dispatch of one resource request (method + id + sub-path + query + parsed body) to the object operations.
// No HTTP objects here: the app has already read the body and checked auth.

import {
  deleteObject,
  getObject,
  listObjects,
  patchObject,
  postObject,
  putObject,
  validateObject,
  type ObjectContext,
  type ObjectResult,
} from '../objects/index';
import type { Resource } from '../store/types';
import type { PluginSet } from '../plugins/registry';
import { AdminError } from './respond';

export interface ResourceCall {
  res: Resource;
  method: string;
  /** The URL id segment, decoded; undefined for the collection URL. */
  id: string | undefined;
  /** The rest of the path after the id ("nodes", "timeout/connect"), or "". */
  subPath: string;
  query: URLSearchParams;
  /** The parsed JSON body (undefined when absent). */
  body: unknown;
}

/** Run one resource call. Throws ObjectError/AdminError for refusals (mapped by the app). */
export function handleResource(ctx: ObjectContext, call: ResourceCall): ObjectResult {
  const { res, id, query } = call;
  switch (call.method) {
    case 'GET':
      if (id === undefined) {
        return listObjects(ctx.store, res, {
          page: query.get('page'),
          page_size: query.get('page_size'),
          name: query.get('name'),
          label: query.get('label'),
          filter: query.get('filter'),
        });
      }
      // APISIX ignores a sub-path on GET and returns the whole object.
      return getObject(ctx.store, res, id);
    case 'PUT':
      return putObject(ctx, res, id, call.body);
    case 'POST':
      return postObject(ctx, res, id, call.body);
    case 'PATCH':
      return patchObject(ctx, res, id, call.subPath, call.body);
    case 'DELETE':
      // Exactly "true", as APISIX compares it.
      return deleteObject(ctx, res, id, { force: query.get('force') === 'true' });
    default:
      throw new AdminError(404, { error_msg: 'not found' });
  }
}

/** POST /apisix/admin/schema/validate/<res>: throws a 400 ObjectError when invalid. */
export function handleSchemaValidate(res: Resource, body: unknown, plugins?: PluginSet): void {
  validateObject(res, body, plugins);
}
