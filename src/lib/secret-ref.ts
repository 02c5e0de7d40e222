// Secret references in certificate and key fields, as APISIX reads them: `$secret://<manager>/...` (case as
// written) and `$env://VAR` or `$env://VAR/field`, whose prefix may be in any case (`$ENV://` too).

const SECRET_PREFIX = '$secret://';
const ENV_PREFIX = '$ENV://';

/** True for a `$secret://` or `$env://` reference (APISIX skips schema checks for these and stores them as sent). */
export function isSecretRef(value: unknown): value is string {
  if (typeof value !== 'string' || value.charCodeAt(0) !== 36) return false; // '$'
  return value.startsWith(SECRET_PREFIX) || value.slice(0, ENV_PREFIX.length).toUpperCase() === ENV_PREFIX;
}

/**
 * Resolve a reference from `env`; any other value passes through. `$env://VAR/field` reads `field` of
 * VAR's JSON value (apisix/core/env.lua). Null when unresolvable: an unset variable, a field that is not a
 * string, or a `$secret://` reference. Runs at snapshot build, never per connection.
 */
export function resolveSecretRef(value: string, env: Record<string, string | undefined>): string | null {
  if (value.startsWith(SECRET_PREFIX)) return null; // TODO: secret managers (vault, aws) are not supported
  if (!isSecretRef(value)) return value;
  const path = value.slice(ENV_PREFIX.length);
  const slash = path.indexOf('/');
  const main = env[slash < 0 ? path : path.slice(0, slash)];
  if (main === undefined || slash < 0) return main ?? null;
  try {
    const field = (JSON.parse(main) as Record<string, unknown> | null)?.[path.slice(slash + 1)];
    return typeof field === 'string' ? field : null;
  } catch {
    return null;
  }
}
