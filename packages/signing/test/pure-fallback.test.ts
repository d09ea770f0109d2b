// Without `process.getBuiltinModule` (browsers, Deno without Node compat, old Node), the package
// must pick the pure @noble backend by itself and give the same results as on Node.
import { afterEach, describe, expect, it, vi } from 'vitest';

import { computeContentHash, signingKeyFromSeed, signJson } from '../src/index.ts';

const host = globalThis.process as { getBuiltinModule?: unknown };
const original = host.getBuiltinModule;

afterEach(() => {
  host.getBuiltinModule = original;
  vi.resetModules();
});

describe('platform without node:crypto', () => {
  it('selects the pure backend and signs and hashes identically', async () => {
    host.getBuiltinModule = undefined;
    vi.resetModules();
    const backend = await import('../src/backend.ts');
    const fresh = await import('../src/index.ts');
    expect(backend.hasNativeBackend()).toBe(false);
    expect(backend.backend().name).toBe('pure');
    expect(() => backend.useBackend('native')).toThrow();

    const seed = new Uint8Array(32).fill(8);
    const object = { a: 'é🎉', b: [1, null] };
    const pureKey = fresh.signingKeyFromSeed(seed, 'k');
    const nodeKey = signingKeyFromSeed(seed, 'k');
    expect(fresh.signJson(object, 'e', 'ed25519:k', pureKey)).toEqual(
      signJson(object, 'e', 'ed25519:k', nodeKey),
    );
    expect(fresh.computeContentHash(object)).toBe(computeContentHash(object));
  });
});
