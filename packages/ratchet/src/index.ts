// @weft/ratchet public API: the whole surface is this list (STYLE.md practice 2).

// --- shared (owned by the Megolm work: cipher, pickle envelope, randomness, errors) ---
export { RatchetError, type RatchetErrorCode, type RatchetErrorContext } from './errors.ts';
export { type RandomSource, systemRandom } from './random.ts';
