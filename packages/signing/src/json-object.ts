/**
 * The JSON shapes this package works on, and the checks that a value has them.
 */
import { describeType } from './bytes.ts';
import { SigningError } from './errors.ts';

/** A JSON object as parsed by `JSON.parse` (values are further JSON values). */
export type JsonObject = { readonly [key: string]: unknown };

/** `signatures`: entity (server name or user ID) → key identifier → unpadded Base64 signature. */
export type Signatures = { readonly [entity: string]: { readonly [keyId: string]: string } };

/** True for a plain object (not an array, not null, not a class instance). */
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Throws `TypeError` unless `value` is a plain object: the top-level argument check. */
export function checkJsonObject(value: unknown, name: string): asserts value is JsonObject {
  if (!isJsonObject(value)) {
    throw new TypeError(`${name} must be a plain JSON object, got ${describeType(value)}`);
  }
}

/** A copy of `object` without the listed keys (shallow: nested values are shared). */
export function omitKeys(object: JsonObject, keys: readonly string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  if (keys.length > 3) {
    for (const key of Object.keys(object)) {
      if (!keys.includes(key)) copy[key] = object[key];
    }
    return copy;
  }
  const [a, b, c] = keys; // most callers omit at most three keys; comparing directly avoids includes()
  for (const key of Object.keys(object)) {
    if (key !== a && key !== b && key !== c) copy[key] = object[key];
  }
  return copy;
}

/** Own property read that ignores the prototype chain (`"__proto__"` and friends stay data). */
export function own(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * Reads an existing `signatures` member: absent means none; anything but an object of objects
 * of strings throws `SigningError('bad-json')` naming the path.
 */
export function readSignatures(object: JsonObject): Signatures {
  const signatures = own(object, 'signatures');
  if (signatures === undefined) return {};
  if (!isJsonObject(signatures)) {
    throw new SigningError('bad-json', 'signatures must be an object', { path: '$.signatures' });
  }
  for (const entity of Object.keys(signatures)) {
    const byKey = signatures[entity];
    if (!isJsonObject(byKey)) {
      throw new SigningError('bad-json', 'signatures of an entity must be an object', {
        path: `$.signatures[${JSON.stringify(entity)}]`,
        entity,
      });
    }
    for (const keyId of Object.keys(byKey)) {
      if (typeof byKey[keyId] !== 'string') {
        throw new SigningError('bad-json', 'a signature must be a string', {
          path: `$.signatures[${JSON.stringify(entity)}][${JSON.stringify(keyId)}]`,
          entity,
          keyId,
        });
      }
    }
  }
  return signatures as Signatures;
}
