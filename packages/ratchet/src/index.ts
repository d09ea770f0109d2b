// @weft/ratchet public API: the whole surface is this list (STYLE.md practice 2).

// --- shared (owned by the Megolm work: cipher, pickle envelope, randomness, errors) ---

// --- Olm ---

// --- Megolm ---
export {};
