/**
 * Small byte helpers shared by the modules of this package: argument checks in the style of
 * noble's `abytes`, UTF-8, constant-time comparison and zeroing.
 */

/** Throws `TypeError` unless `value` is a `Uint8Array`, `RangeError` if its length is not `length`. */
export function checkBytes(
  value: unknown,
  name: string,
  length?: number,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describeType(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Throws `TypeError` unless `value` is a string. */
export function checkString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${describeType(value)}`);
  }
}

/** A short type description for error messages: never the value itself (it may be secret). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Uint8Array) return 'Uint8Array';
  return typeof value;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Compares two byte arrays in time that depends only on their lengths, so that comparing a
 * received hash with the computed one leaks nothing about where they first differ.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Overwrites buffers with zeros (noble's `clean`). */
export function clean(...buffers: Uint8Array[]): void {
  for (const buffer of buffers) buffer.fill(0);
}
