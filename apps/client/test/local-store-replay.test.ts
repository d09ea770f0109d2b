/** local-store.ts replay records: one event per (session, message index), kept across reopening
 * the store and across sessions leaving the in-memory cache. */
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { LocalStore } from '../src/sdk/local-store.ts';
import { PASSPHRASE, tempDir } from './helpers.ts';

describe('replay records', () => {
  it('refuse a second event for a used index, after reopening and after cache eviction', () => {
    const path = join(tempDir(), 'replay.db');
    let store = LocalStore.open(path, PASSPHRASE);
    expect(store.checkReplay('S', 0, '$a')).toBe(true);
    expect(store.checkReplay('S', 0, '$a')).toBe(true); // the same event again is fine
    expect(store.checkReplay('S', 0, '$b')).toBe(false);
    expect(store.checkReplay('S', 1, '$b')).toBe(true);
    store.close();

    store = LocalStore.open(path, PASSPHRASE);
    expect(store.checkReplay('S', 0, '$b')).toBe(false);
    expect(store.checkReplay('S', 1, '$b')).toBe(true);
    expect(store.checkReplay('S', 1, '$c')).toBe(false);
    // Touch enough other sessions to push `S` out of memory; its records still hold.
    expect(store.checkReplay('T', 5, '$t')).toBe(true);
    for (let i = 0; i < 300; i++) expect(store.checkReplay(`other-${i}`, 0, `$o${i}`)).toBe(true);
    expect(store.checkReplay('S', 0, '$c')).toBe(false);
    expect(store.checkReplay('T', 5, '$u')).toBe(false);
    expect(store.checkReplay('other-0', 0, '$o0')).toBe(true);
    store.close();
  });
});
