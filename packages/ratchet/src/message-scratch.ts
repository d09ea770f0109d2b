/**
 * The one buffer where `Session.encrypt` and `GroupSession.encrypt` lay out an outbound message
 * before encoding it as base64: a fresh typed array above 64 bytes costs V8 an allocation
 * outside its heap and later garbage-collection work (~1.2 µs each, measured), and the encoded
 * message is read exactly once, by that base64 encoding, right away.
 *
 * It holds public bytes only (keys, indices, ciphertext, MACs, signatures). Only those two
 * methods pass it on, each as an explicit `into` argument, and each finishes reading it before
 * returning; everything is synchronous, so no two uses overlap. Lower layers never write to it
 * unless handed it: without `into` they return arrays of their own.
 */
export const MESSAGE_SCRATCH = new Uint8Array(4096);

/**
 * The one buffer where `Session.decrypt` and `InboundGroupSession.decrypt` decode an inbound
 * message from base64 (public bytes: keys, index, ciphertext, MAC, signature), sparing a fresh
 * array per message as above. The decrypting code reads the views it makes of it before
 * `decrypt` returns, and copies whatever it keeps (a new chain's ratchet key); everything is
 * synchronous, so no two uses overlap.
 */
export const INBOUND_MESSAGE_SCRATCH = new Uint8Array(4096);
