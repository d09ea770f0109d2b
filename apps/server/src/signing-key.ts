/**
 * The server's Ed25519 signing key, kept in `<data-dir>/signing.key` in Synapse's format
 * (`ed25519 <version> <unpadded base64 seed>`, one key per line), created on first start with
 * owner-only permissions. The seed is never logged.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  encodeBase64,
  generateSigningKey,
  type SigningKey,
  signingKeyFromSeed,
} from '@weft/signing';

/** Loads the signing key from the data directory, generating it if there is none. */
export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const path = join(dataDir, 'signing.key');
  if (!existsSync(path)) {
    const key = generateSigningKey();
    const seed = key.exportSeed();
    writeFileSync(path, `ed25519 ${key.version} ${encodeBase64(seed)}\n`, { mode: 0o600 });
    seed.fill(0);
    return key;
  }
  const line =
    readFileSync(path, 'utf8')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  const [algorithm, version, seed] = line.trim().split(/\s+/);
  if (algorithm !== 'ed25519' || version === undefined || seed === undefined) {
    throw new Error(`${path}: expected "ed25519 <version> <base64 seed>"`);
  }
  return signingKeyFromSeed(seed, version);
}
