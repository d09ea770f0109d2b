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
