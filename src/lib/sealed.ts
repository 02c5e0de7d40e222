// How a private key sealed at rest looks ("$weir$enc1$<kid>$..."): what the store writes (store/keyring.ts)
// and what schema checks and the snapshot build recognise, without either of them reaching into the store.

export const ENCRYPTED_PREFIX = '$weir$enc1$';

/** A value the store sealed (and could not, or did not yet, open). */
export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(ENCRYPTED_PREFIX);
}

/** The key id a sealed value names ("" when it names none). */
export function sealedKeyId(value: string): string {
  const rest = value.slice(ENCRYPTED_PREFIX.length);
  const sep = rest.indexOf('$');
  return sep > 0 ? rest.slice(0, sep) : '';
}
