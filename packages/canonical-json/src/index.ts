/**
 * @weft/canonical-json: Matrix canonical JSON (spec appendices, "Canonical JSON"): a spec-exact
 * encoder and a strict parser for untrusted input, both failing with one typed error.
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
export { DEFAULT_MAX_BYTES, type ParseOptions, parseJson } from './parse.ts';
export { parseAnyJson } from './parse-any.ts';
