/**
 * The bounded least-recently-used map behind the statement, access-token, filter, event,
 * joined-member and state-group caches: bounded by count, or by total weight; and the maps of
 * maps (unread counts, one-time-key counts) built on it.
 */
import { describe, expect, it } from 'vitest';

import { LruMap, NestedLruMap } from '../src/lru-map.ts';

const keys = <K, V>(map: LruMap<K, V>) => [...map.entries()].map(([key]) => key);

describe('LruMap', () => {
  it('drops an entry not used since it was stored, keeping the ones used', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    // A hit gives `a` a second chance, so `b` goes when `c` arrives.
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect(map.size).toBe(2);
    expect(map.get('b')).toBeUndefined();
    expect(map.get('a')).toBe(1);
    expect(map.get('c')).toBe(3);
    // Without hits it drops the oldest.
    const plain = new LruMap<string, number>(2);
    plain.set('x', 1);
    plain.set('y', 2);
    plain.set('z', 3);
    expect(keys(plain)).toEqual(['y', 'z']);
  });

  it('evicts the newest entry too when every other one was used, never growing past its bound', () => {
    const map = new LruMap<number, number>(3);
    for (let i = 0; i < 3; i++) map.set(i, i);
    for (let i = 0; i < 3; i++) map.get(i);
    map.set(3, 3);
    expect(map.size).toBe(3);
    // Every old entry had its second chance: the oldest of them is the one dropped.
    expect(keys(map).sort()).toEqual([1, 2, 3]);
    for (let i = 4; i < 100; i++) {
      map.get(i - 1);
      map.set(i, i);
      expect(map.size).toBe(3);
    }
  });

  it('replaces a value in place of a second entry and deletes on request', () => {
    const map = new LruMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 10);
    expect(map.size).toBe(2);
    expect(keys(map)).toEqual(['b', 'a']);
    expect(map.get('a')).toBe(10);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.get('a')).toBeUndefined();
  });

  it('refuses a bound that is not a positive integer, and a weight that is not a number ≥ 0', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow(RangeError);
    const map = new LruMap<string, number>(10);
    expect(() => map.set('a', 1, -1)).toThrow(RangeError);
    expect(() => map.set('a', 1, Number.NaN)).toThrow(RangeError);
    expect(map.size).toBe(0);
  });

  it('bounds the total weight, dropping as many light entries as a heavy one needs', () => {
    const map = new LruMap<string, string>(100);
    for (let i = 0; i < 10; i++) map.set(`s${i}`, 'small', 10);
    expect(map.weight).toBe(100);
    // A hit keeps s0 through the next eviction; s1…s5 go to make room for 50.
    map.get('s0');
    expect(map.set('big', 'large', 50)).toBe(true);
    expect(map.weight).toBeLessThanOrEqual(100);
    expect(keys(map).sort()).toEqual(['big', 's0', 's6', 's7', 's8', 's9']);
    // Replacing an entry counts its new weight only; deleting frees it.
    map.set('big', 'larger', 60);
    expect(map.weight).toBeLessThanOrEqual(100);
    expect(map.get('big')).toBe('larger');
    map.delete('big');
    expect(map.weight).toBe(keys(map).length * 10);
  });

  it('keeps no entry heavier than the whole bound, and drops nothing for it', () => {
    const map = new LruMap<string, string>(100);
    map.set('a', 'kept', 40);
    map.set('b', 'old value', 10);
    expect(map.set('b', 'too heavy', 101)).toBe(false);
    // The old value of the key is gone too: the map never answers with a stale value.
    expect(map.get('b')).toBeUndefined();
    expect(map.get('a')).toBe('kept');
    expect(map.weight).toBe(40);
    expect(map.has('a')).toBe(true);
  });
});

describe('NestedLruMap', () => {
  it('finds a value by both keys, replaces and deletes it, and counts inner entries', () => {
    const map = new NestedLruMap<string, string, number>(10);
    map.set('!a', '@x', 1);
    map.set('!a', '@y', 2);
    map.set('!b', '@x', 3);
    expect(map.get('!a', '@x')).toBe(1);
    expect(map.get('!b', '@x')).toBe(3);
    expect(map.get('!b', '@y')).toBeUndefined();
    expect(map.size).toBe(3);
    map.set('!a', '@x', 4);
    expect(map.get('!a', '@x')).toBe(4);
    expect(map.size).toBe(3);
    expect([...(map.entriesOf('!a') ?? [])]).toEqual([
      ['@x', 4],
      ['@y', 2],
    ]);
    expect(map.delete('!a', '@x')).toBe(true);
    expect(map.delete('!a', '@x')).toBe(false);
    expect(map.delete('!c', '@x')).toBe(false);
    expect(map.size).toBe(2);
    expect(map.delete('!a', '@y')).toBe(true);
    expect(map.entriesOf('!a')).toBeUndefined();
    expect(map.size).toBe(1);
  });

  it('bounds the inner entries in all, dropping whole outer entries least recently used first', () => {
    const map = new NestedLruMap<string, number, string>(4);
    map.set('old', 1, 'a');
    map.set('old', 2, 'b');
    map.set('used', 1, 'c');
    map.get('used', 1);
    map.set('new', 1, 'd');
    map.set('new', 2, 'e');
    // Five entries against a bound of four: "old" (not used since stored) goes, with both.
    expect(map.get('old', 1)).toBeUndefined();
    expect(map.get('old', 2)).toBeUndefined();
    expect(map.get('used', 1)).toBe('c');
    expect(map.get('new', 2)).toBe('e');
    expect(map.size).toBe(3);
  });

  it('starts an outer entry again from the new value once it holds its own bound', () => {
    const map = new NestedLruMap<string, number, string>(100, 2);
    map.set('room', 1, 'a');
    map.set('room', 2, 'b');
    map.set('room', 2, 'B'); // a replacement does not grow it
    expect(map.get('room', 1)).toBe('a');
    map.set('room', 3, 'c');
    expect(map.get('room', 1)).toBeUndefined();
    expect(map.get('room', 2)).toBeUndefined();
    expect(map.get('room', 3)).toBe('c');
    expect(map.size).toBe(1);
    expect(() => new NestedLruMap(10, 0)).toThrow(RangeError);
  });
});
