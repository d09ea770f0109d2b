// @weft/ratchet public API: the whole surface is this list (STYLE.md practice 2).

// --- shared (owned by the Megolm work: cipher, pickle envelope, randomness, errors) ---
export { RatchetError, type RatchetErrorCode, type RatchetErrorContext } from './errors.ts';
// --- Megolm ---
export { GroupSession } from './megolm/group-session.ts';
export { type DecryptedGroupMessage, InboundGroupSession } from './megolm/inbound-group-session.ts';
export { ReplayGuard } from './megolm/replay-guard.ts';
// --- Olm ---
export { Account, type IdentityKeys } from './olm/account.ts';
export { type OlmMessage, Session } from './olm/session.ts';
// --- shared (continued) ---
export { type RandomSource, systemRandom } from './random.ts';
