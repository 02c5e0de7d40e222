// Scoped admin keys (pure): which resources, ids and methods a key's `scope` grants. Compiled once per key when
// the app starts; per request a few regular-expression tests.

import type { AdminKeyGrant, AdminRole } from '../config/types';

/** Who is calling: the key's name (for the write log, never the key), its role and its scope. */
export interface AdminIdentity {
  name: string;
  role: AdminRole;
  /** null: unscoped (everything the role allows). */
  scope: KeyScope | null;
}

/** The caller when no key is required (admin_key_required: false on loopback). */
export const OPEN_IDENTITY: AdminIdentity = Object.freeze({ name: '(no key)', role: 'admin', scope: null });

/** "tenant-a-*" -> /^tenant-a-.*$/; `*` is the only special character. */
function globToRegExp(glob: string): RegExp {
  const parts = glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's');
}

interface CompiledGrant {
  resource: string;
  ids: RegExp[];
  methods: ReadonlySet<string>;
}

export class KeyScope {
  private readonly grants: CompiledGrant[];

  constructor(grants: readonly AdminKeyGrant[]) {
    this.grants = grants.map((g) => ({ resource: g.resource, ids: g.ids.map(globToRegExp), methods: new Set(g.methods) }));
  }

  private covering(res: string, id: string): CompiledGrant[] {
    return this.grants.filter((g) => (g.resource === '*' || g.resource === res) && g.ids.some((re) => re.test(id)));
  }

  /** May the key call `method` on this object? */
  allows(res: string, id: string, method: string): boolean {
    return this.covering(res, id).some((g) => g.methods.has(method));
  }

  /** Does the key see this object at all (any method)? An object it does not see is missing to it. */
  sees(res: string, id: string): boolean {
    return this.covering(res, id).length > 0;
  }

  /** May the key use `method` on some id of the resource (lists, POST)? */
  allowsAnyId(res: string, method: string): boolean {
    return this.grants.some((g) => (g.resource === '*' || g.resource === res) && g.methods.has(method));
  }
}
