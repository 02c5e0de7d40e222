// Node's built-in modules, loaded where they are first needed instead of at start. Under Bun (dist/weir) the
// data plane is Bun-native and needs none of node:net, node:tls or node:dgram on its usual paths, yet each is a
// few hundred KiB of JavaScript that every garbage collection walks once loaded: with them, forwarding one MB
// cost about 11 µs more collector time (bench/README.md, "Memory, this round").

import { createRequire } from 'node:module';

/** The built-in module `id`, loaded on first call (process.getBuiltinModule: Bun, Deno, Node >= 20.16). */
export function nodeBuiltin<T>(id: `node:${string}`): T {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === 'function') return get(id) as T;
  return createRequire(import.meta.url)(id) as T; // older Node 20 running the ESM sources
}
