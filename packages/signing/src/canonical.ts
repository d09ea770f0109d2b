/**
 * Canonical JSON bytes and SHA-256 over them, with encoder failures reported as `SigningError`.
 */
import { encodeCanonicalJson, encodeCanonicalJsonBytes } from '@weft/canonical-json';

import { backend } from './backend.ts';
import { SigningError } from './errors.ts';

/** Canonical JSON bytes of `value`; throws `SigningError('bad-json')` (cause: the encoder's error). */
export function canonicalBytes(value: unknown): Uint8Array {
  try {
    return encodeCanonicalJsonBytes(value);
  } catch (cause) {
    throw new SigningError('bad-json', 'value cannot be encoded as canonical JSON', { cause });
  }
}

/** Canonical JSON text of `value`; throws `SigningError('bad-json')` (cause: the encoder's error). */
export function canonicalText(value: unknown): string {
  try {
    return encodeCanonicalJson(value);
  } catch (cause) {
    throw new SigningError('bad-json', 'value cannot be encoded as canonical JSON', { cause });
  }
}

/**
 * SHA-256 of the canonical JSON of `value`. Same result as `sha256(canonicalBytes(value))`; the
 * native backend hashes the string directly, which skips building the UTF-8 copy.
 */
export function canonicalSha256(value: unknown): Uint8Array {
  return backend().sha256Utf8(canonicalText(value));
}

/** SHA-256 of raw bytes, on the active backend. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return backend().sha256(bytes);
}
