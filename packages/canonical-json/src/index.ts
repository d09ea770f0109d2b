/**
 * @weft/canonical-json: Matrix canonical JSON (spec appendices, "Canonical JSON").
 *
 * The whole public API is this list.
 */
export {
  DEFAULT_MAX_DEPTH,
  type EncodeOptions,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
} from './encode.ts';
export {
  CanonicalJsonError,
  type CanonicalJsonErrorCode,
  type CanonicalJsonErrorOptions,
} from './errors.ts';
