/**
 * Test keys: the signing key of the spec's "Cryptographic Test Vectors" (appendices), read from
 * the shared vector file rather than typed in, plus a second key generated per run.
 */
import { generateSigningKey, type SigningKey, signingKeyFromSeed } from '@weft/signing';
import { loadVectorFile } from '@weft/test-vectors';

interface SpecSigningCase {
  readonly signing_key: {
    readonly seed: string;
    readonly server_name: string;
    readonly key_id: string;
    readonly public_key: string;
  };
}

/** The spec's test key (seed `YJDBA9…`, key ID `ed25519:1`), as a SigningKey and its data. */
export function specSigningKey(): { key: SigningKey; seed: string; publicKey: string } {
  const file = loadVectorFile('spec-signing.json');
  const first = file.cases?.[0] as SpecSigningCase | undefined;
  if (first === undefined) throw new Error('spec-signing.json has no cases');
  const { seed, key_id: keyId, public_key: publicKey } = first.signing_key;
  const version = keyId.slice(keyId.indexOf(':') + 1);
  return { key: signingKeyFromSeed(seed, version), seed, publicKey };
}

/** A fresh random key with the given version. */
export function randomSigningKey(version: string): SigningKey {
  return generateSigningKey(version);
}
