/** The store's key derivation: scrypt N = 2^17 for new stores, stored stores' parameters honoured. */

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';

import { LocalStore } from '../src/sdk/local-store.ts';
import {
  CURRENT_KDF,
  deriveStoreKeys,
  LEGACY_KDF,
  newSalt,
  parseKdfParams,
  sealValue,
} from '../src/sdk/store-cipher.ts';
import { PASSPHRASE, tempDir } from './helpers.ts';

function kdfRow(path: string): Record<string, unknown> | undefined {
  const db = new DatabaseSync(path);
  try {
    const row = db.prepare("SELECT value FROM meta WHERE name = 'kdf'").get() as
      | { value: Uint8Array }
      | undefined;
    return row === undefined ? undefined : JSON.parse(new TextDecoder().decode(row.value));
  } finally {
    db.close();
  }
}

describe('store key derivation', () => {
  it('creates new stores with N = 2^17 and records the parameters beside the salt', () => {
    const path = join(tempDir(), 'new.db');
    const store = LocalStore.open(path, PASSPHRASE);
    store.set('x', { kept: true });
    store.close();
    expect(kdfRow(path)).toEqual({ alg: 'scrypt', N: 1 << 17, r: 8, p: 1 });
    expect(CURRENT_KDF.N).toBe(1 << 17);
    const again = LocalStore.open(path, PASSPHRASE);
    expect(again.get('x')).toEqual({ kept: true });
    again.close();
    expect(() => LocalStore.open(path, 'another passphrase')).toThrow(/passphrase/);
  });

  it('still opens a store made before the parameters were stored (N = 2^15)', () => {
    const path = join(tempDir(), 'old.db');
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)');
    const salt = newSalt();
    const keys = deriveStoreKeys(PASSPHRASE, salt, LEGACY_KDF);
    db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run('salt', salt);
    db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)').run(
      'verifier',
      sealValue(keys.valueKey, 'meta/verifier', 'weft-client-store-v1'),
    );
    db.close();
    const store = LocalStore.open(path, PASSPHRASE);
    store.set('x', 1);
    store.close();
    const again = LocalStore.open(path, PASSPHRASE);
    expect(again.get('x')).toBe(1);
    again.close();
    expect(kdfRow(path)).toBeUndefined();
    expect(() => LocalStore.open(path, 'another passphrase')).toThrow(/passphrase/);
  });

  it('refuses stored parameters outside the accepted range', () => {
    const path = join(tempDir(), 'bad.db');
    LocalStore.open(path, PASSPHRASE).close();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE meta SET value = ? WHERE name = 'kdf'").run(
      new TextEncoder().encode(JSON.stringify({ alg: 'scrypt', N: 2 ** 30, r: 8, p: 1 })),
    );
    db.close();
    expect(() => LocalStore.open(path, PASSPHRASE)).toThrow(/key-derivation/);
  });

  it('accepts only the two parameter sets the client creates (not a 2 GiB N = 2^20, r = 16)', () => {
    expect(parseKdfParams({ alg: 'scrypt', N: 2 ** 17, r: 8, p: 1 })).toEqual(CURRENT_KDF);
    expect(parseKdfParams({ alg: 'scrypt', N: 2 ** 15, r: 8, p: 1 })).toEqual(LEGACY_KDF);
    for (const bad of [
      { N: 2 ** 20, r: 16, p: 1 },
      { N: 2 ** 18, r: 8, p: 1 },
      { N: 2 ** 17, r: 16, p: 1 },
      { N: 2 ** 17, r: 8, p: 4 },
      { N: 2 ** 14, r: 8, p: 1 },
    ]) {
      expect(parseKdfParams({ alg: 'scrypt', ...bad })).toBeUndefined();
    }
    const path = join(tempDir(), 'big.db');
    LocalStore.open(path, PASSPHRASE).close();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE meta SET value = ? WHERE name = 'kdf'").run(
      new TextEncoder().encode(JSON.stringify({ alg: 'scrypt', N: 2 ** 20, r: 16, p: 1 })),
    );
    db.close();
    expect(() => LocalStore.open(path, PASSPHRASE)).toThrow(
      expect.objectContaining({ code: 'store-corrupt' }),
    );
  });
});
