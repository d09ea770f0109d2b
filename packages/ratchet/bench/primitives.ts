/**
 * The symmetric primitives (src/primitives.ts) on each path, at the sizes Olm and Megolm use:
 * @noble ("portable") against OpenSSL through node:crypto ("native"). This is the measurement
 * behind the automatic per-primitive choice (`auto`). Same CPU-time method as bench/olm.ts:
 * process.cpuUsage, best of ROUNDS slices, the two paths taking their slices in turn.
 */
import { type Measurement, printComparison } from '@weft/bench';

import { decodeBase64, encodeBase64, selectBase64Implementation } from '../src/base64.ts';
import { Account, GroupSession } from '../src/index.ts';
import {
  AUTO_ROUTES,
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  hkdfSha256,
  hmacSha256,
  hmacSha256Into,
  type PrimitiveChoice,
  type PrimitiveRoutes,
  selectPrimitives,
  sha256Digest,
} from '../src/primitives.ts';

const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 300) / 2;

/**
 * Puts a choice in force: the symmetric primitives, and the base64 codec with them (`portable`
 * is what a browser runs: @noble and the JavaScript codec; the others use Node's `Buffer`).
 */
function choose(choice: PrimitiveChoice): void {
  selectPrimitives(choice);
  selectBase64Implementation(choice !== 'portable');
}
const ROUNDS = 5;

function cpuMillis(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function rate(fn: () => unknown): number {
  let iterations = 0;
  const start = cpuMillis();
  let now = start;
  while (now - start < MILLIS) {
    fn();
    iterations += 1;
    if (iterations % 8 === 0) now = cpuMillis();
  }
  return (iterations * 1000) / (now - start);
}

function bytes(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + fill) & 0xff);
}

const key = bytes(32, 1);
const iv = bytes(16, 2);
const info = new TextEncoder().encode('MEGOLM_KEYS');
const olmInfo = new TextEncoder().encode('OLM_KEYS');
const zeroSalt = new Uint8Array(32);

// In-place measurements: a primitive faster alone can still make the whole operation slower
// (extra objects for the garbage collector), so the choice is checked on whole messages too.
function olmEncrypt(): () => unknown {
  const alice = Account.create();
  const bob = Account.create();
  bob.generateFallbackKey();
  const [fallback] = Object.values(bob.fallbackKey());
  const session = alice.createOutboundSession(bob.identityKeys().curve25519, fallback as string);
  const plaintext = 'x'.repeat(200);
  return () => session.encrypt(plaintext);
}

function megolmEncrypt(): () => unknown {
  const session = GroupSession.create();
  const plaintext = 'x'.repeat(200);
  return () => session.encrypt(plaintext);
}

/** Each case: what it is, and the call. Sizes: ratchet steps, message keys, 200-byte messages. */
const CASES: ReadonlyArray<readonly [string, () => unknown]> = (() => {
  const seed = Uint8Array.of(1);
  const steps = [Uint8Array.of(1), Uint8Array.of(2)];
  const stepOutputs = [new Uint8Array(32), new Uint8Array(32)];
  const macInput = bytes(250, 3);
  const longMacInput = bytes(400, 8);
  const plaintext = bytes(200, 4);
  const ciphertext = aes256CbcEncrypt(key, iv, plaintext);
  const large = bytes(4096, 5);
  const largeCt = aes256CbcEncrypt(key, iv, large);
  const ratchet = bytes(128, 6);
  const message = bytes(260, 7);
  const messageText = encodeBase64(message);
  return [
    ['HMAC-SHA-256, 1-byte message', () => hmacSha256(key, seed)],
    ['Olm chain step (two HMACs under one key)', () => hmacSha256Into(key, steps, stepOutputs)],
    ['HMAC-SHA-256, 250-byte message (message MAC)', () => hmacSha256(key, macInput)],
    ['HMAC-SHA-256, 400-byte message (above SHORT_HMAC_MAX)', () => hmacSha256(key, longMacInput)],
    ['HMAC-SHA-256, 4 KiB message', () => hmacSha256(key, large)],
    [
      'HKDF-SHA-256, 32-byte IKM → 80 bytes (Olm message keys)',
      () => hkdfSha256(key, zeroSalt, olmInfo, 80),
    ],
    [
      'HKDF-SHA-256, 128-byte IKM → 80 bytes (Megolm keys)',
      () => hkdfSha256(ratchet, zeroSalt, info, 80),
    ],
    ['AES-256-CBC encrypt, 200 bytes', () => aes256CbcEncrypt(key, iv, plaintext)],
    ['AES-256-CBC decrypt, 208 bytes', () => aes256CbcDecrypt(key, iv, ciphertext)],
    ['AES-256-CBC encrypt, 4 KiB', () => aes256CbcEncrypt(key, iv, large)],
    ['AES-256-CBC decrypt, 4 KiB + 16', () => aes256CbcDecrypt(key, iv, largeCt)],
    ['SHA-256, 96 bytes (Olm session ID)', () => sha256Digest(ratchet.subarray(0, 96))],
    ['base64 encode, 260 bytes (an Olm message)', () => encodeBase64(message)],
    ['base64 decode, 347 characters (an Olm message)', () => decodeBase64(messageText)],
    ['whole Olm encrypt, 200 bytes (X25519/Ed25519 unaffected)', olmEncrypt()],
    ['whole Megolm encrypt, 200 bytes (Ed25519 unaffected)', megolmEncrypt()],
  ];
})();

/** Prints portable vs native (and the automatic choice) for every case. */
export function benchPrimitives(): void {
  if (!selectPrimitives('native')) {
    console.log('\nnode:crypto unavailable: no native primitives to compare');
    return;
  }
  const choices: PrimitiveChoice[] = ['auto', 'portable', 'native'];
  for (const [title, fn] of CASES) {
    const best = new Map<PrimitiveChoice, number>(choices.map((c) => [c, 0]));
    for (const choice of choices) {
      choose(choice);
      for (let i = 0; i < 200; i++) fn();
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const choice of choices) {
        choose(choice);
        best.set(choice, Math.max(best.get(choice) ?? 0, rate(fn)));
      }
    }
    choose('auto');
    const row = (name: string, c: PrimitiveChoice): Measurement => ({
      name,
      opsPerSecond: best.get(c) ?? 0,
      iterations: 0,
    });
    printComparison(`primitive: ${title} (ops per CPU second)`, row('weft (auto)', 'auto'), [
      row('@noble (portable)', 'portable'),
      row('node:crypto (native)', 'native'),
    ]);
  }
}

/**
 * Whole messages with one primitive at a time moved off its `AUTO_ROUTES` path (the chain steps,
 * HKDF or the short message MAC back to OpenSSL, AES to @noble), the variants taking their slices in turn:
 * a primitive that is faster alone can still make the message slower (garbage collection,
 * caches), so the choice in `AUTO_ROUTES` is made here.
 */
export function benchMixes(): void {
  if (!selectPrimitives('native')) return;
  const variants: ReadonlyArray<readonly [string, PrimitiveRoutes]> = [
    ['auto (steps, HKDF and short MACs on @noble, the rest OpenSSL)', AUTO_ROUTES],
    ['all OpenSSL', { ...AUTO_ROUTES, hmacSteps: 'native', hkdf: 'native' }],
    ['chain/ratchet steps on OpenSSL', { ...AUTO_ROUTES, hmacSteps: 'native' }],
    ['HKDF on OpenSSL', { ...AUTO_ROUTES, hkdf: 'native' }],
    ['message MAC on OpenSSL', { ...AUTO_ROUTES, hmacShort: 'native' }],
    ['AES on @noble', { ...AUTO_ROUTES, aesEncrypt: 'portable', aesDecrypt: 'portable' }],
  ];
  const messages: ReadonlyArray<readonly [string, () => unknown]> = [
    ['whole Olm encrypt, 200 bytes', olmEncrypt()],
    ['whole Megolm encrypt, 200 bytes', megolmEncrypt()],
  ];
  for (const [title, fn] of messages) {
    const best = variants.map(() => 0);
    variants.forEach(([, routes]) => {
      selectPrimitives(routes);
      for (let i = 0; i < 200; i++) fn();
    });
    for (let round = 0; round < ROUNDS; round++) {
      variants.forEach(([, routes], i) => {
        selectPrimitives(routes);
        best[i] = Math.max(best[i] ?? 0, rate(fn));
      });
    }
    selectPrimitives('auto');
    const rows = variants.map(
      ([name], i): Measurement => ({ name, opsPerSecond: best[i] ?? 0, iterations: 0 }),
    );
    const [first, ...rest] = rows;
    if (first !== undefined) printComparison(`mix: ${title} (ops per CPU second)`, first, rest);
  }
}
