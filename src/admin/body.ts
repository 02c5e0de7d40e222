// Request body reading for the Admin API: size limit, then JSON with APISIX's error envelope.

import { AdminError } from './respond';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../lib/json-depth';

function tooLarge(limit: number): AdminError {
  return new AdminError(400, {
    error_msg: `invalid request body: request size is greater than the maximum size ${limit} allowed`,
  });
}

/**
 * Read and parse the JSON body. Returns undefined for an absent or empty body (the operations answer
 * "missing configurations"). The server hands over at most limit+1 bytes, so a longer buffer means the
 * body was cut: refuse it rather than parse a prefix.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge(limit);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > limit) throw tooLarge(limit);
  if (bytes.byteLength === 0) return undefined;
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (err) {
    throw new AdminError(400, { error_msg: `invalid request body: ${(err as Error).message}`, req_body: text });
  }
  // deeper bodies made the recursive merge patch overflow the stack (a 500; test/reliability R1 found it)
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new AdminError(400, { error_msg: `invalid request body: nested deeper than ${MAX_JSON_DEPTH} levels` });
  }
  return body;
}
