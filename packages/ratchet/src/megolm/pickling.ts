/**
 * Small helpers shared by the Megolm session classes: reading pickle payload fields with typed
 * errors, plaintext normalisation, and the Node inspect hook symbol.
 */
import { decodeBase64 } from '../base64.ts';
import { RatchetError } from '../errors.ts';
import type { OpenedPickle } from '../pickle.ts';
import { encodeUtf8Transient } from '../utf8-scratch.ts';
import { MAX_INDEX } from './ratchet.ts';

/** `util.inspect.custom`, shared across realms via the global symbol registry. */
export const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

type Fields = Readonly<Record<string, unknown>>;

function bad(message: string, field: string): RatchetError {
  return new RatchetError('bad-pickle', message, { context: { field } });
}

/** The payload object of an opened pickle, after checking its version. */
export function pickleFields(opened: OpenedPickle, version: number): Fields {
  if (opened.version !== version) {
    throw new RatchetError('unsupported-version', 'unknown pickle payload version', {
      context: { expected: version, got: opened.version },
    });
  }
  const { payload } = opened;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw bad('pickle payload is not an object', '(root)');
  }
  return payload as Fields;
}

/** Typed field readers; each throws `bad-pickle` naming the field (never its value). */
export const field = {
  bytes(fields: Fields, name: string, length: number): Uint8Array {
    const value = fields[name];
    if (typeof value !== 'string') throw bad('pickle field missing', name);
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(value);
    } catch {
      throw bad('pickle field is not base64', name);
    }
    if (bytes.length !== length) throw bad('pickle field has the wrong length', name);
    return bytes;
  },
  index(fields: Fields, name: string): number {
    const value = fields[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_INDEX) {
      throw bad('pickle field is not a message index', name);
    }
    return value;
  },
  boolean(fields: Fields, name: string): boolean {
    const value = fields[name];
    if (typeof value !== 'boolean') throw bad('pickle field is not a boolean', name);
    return value;
  },
};

/**
 * UTF-8 bytes of a string plaintext (owned: a transient view the caller uses at once and zeroes,
 * `encodeUtf8Transient`), or the caller's bytes.
 */
export function asPlaintext(plaintext: string | Uint8Array): { bytes: Uint8Array; owned: boolean } {
  if (typeof plaintext === 'string') return { bytes: encodeUtf8Transient(plaintext), owned: true };
  if (plaintext instanceof Uint8Array) return { bytes: plaintext, owned: false };
  throw new TypeError('plaintext must be a string or a Uint8Array');
}
