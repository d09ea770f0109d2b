/**
 * Triple Diffie-Hellman (Olm spec, "Initial setup",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#initial-setup):
 *
 *   S = ECDH(I_A, E_B) ‖ ECDH(E_A, I_B) ‖ ECDH(E_A, E_B)
 *
 * where I are identity keys and E one-time keys (Alice's E_A is her "base key"). Each side
 * computes the same three agreements with its own private halves, in the same order.
 */
import { zeroize } from '../cipher.ts';
import { curveAgreements } from './curve.ts';
import { deriveInitialKeys, type RootAndChain } from './kdf.ts';

function concat3([a, b, c]: Uint8Array[]): Uint8Array {
  if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable');
  const out = new Uint8Array(96);
  out.set(a, 0);
  out.set(b, 32);
  out.set(c, 64);
  zeroize(a, b, c);
  return out;
}

function rootFrom(secret: Uint8Array): RootAndChain {
  try {
    return deriveInitialKeys(secret);
  } finally {
    secret.fill(0);
  }
}

/** Alice (outbound): her identity and base private keys, Bob's identity and one-time keys. */
export function aliceInitialKeys(
  ourIdentityPrivate: Uint8Array,
  ourBasePrivate: Uint8Array,
  theirIdentityKey: Uint8Array,
  theirOneTimeKey: Uint8Array,
): RootAndChain {
  return rootFrom(
    concat3(
      curveAgreements([
        [ourIdentityPrivate, theirOneTimeKey],
        [ourBasePrivate, theirIdentityKey],
        [ourBasePrivate, theirOneTimeKey],
      ]),
    ),
  );
}

/** Bob (inbound): his identity and one-time private keys, Alice's identity and base keys. */
export function bobInitialKeys(
  ourIdentityPrivate: Uint8Array,
  ourOneTimePrivate: Uint8Array,
  theirIdentityKey: Uint8Array,
  theirBaseKey: Uint8Array,
): RootAndChain {
  return rootFrom(
    concat3(
      curveAgreements([
        [ourOneTimePrivate, theirIdentityKey],
        [ourIdentityPrivate, theirBaseKey],
        [ourOneTimePrivate, theirBaseKey],
      ]),
    ),
  );
}
