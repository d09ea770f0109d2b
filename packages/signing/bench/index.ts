/**
 * `npm run bench -w packages/signing`
 *
 * Events verified per second: `verifyEvent` (redaction, canonical JSON, Ed25519 signature check
 * and content hash) on ~1 KB signed room-v11 events, against the ceiling of calling
 * `crypto.verify(null, bytes, keyObject, signature)` on the same, precomputed canonical bytes
 * with a prepared KeyObject (no JSON work at all). Target: ≥ 0.8× the ceiling.
 *
 * The two alternate in small batches and count CPU time, so background load hits both alike.
 * Also shown: the same verification on the pure (@noble) backend, and signing throughput.
 */
import { createPublicKey, verify } from 'node:crypto';

import { type Measurement, measureInterleaved, pairedRatio, printComparison } from '@weft/bench';
import { useBackend } from '../src/backend.ts';
import {
  decodeBase64,
  type JsonObject,
  type KeyLookup,
  signEvent,
  signingKeyFromSeed,
  verifyEvent,
} from '../src/index.ts';
import { redactEvent } from '../src/redaction.ts';
import { signedBytes } from '../src/sign-json.ts';

const ROOM_VERSION = '11';
const COUNT = 64;
const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 300);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 10);

const key = signingKeyFromSeed(
  new Uint8Array(32).map((_, i) => i * 7),
  'bench',
);
// A key store hands out the stored key bytes (`key.publicKey` would copy them on every call).
const publicKey = key.publicKey;
const lookup: KeyLookup = (entity, keyId) =>
  entity === 'bench.example.org' && keyId === key.keyId ? publicKey : undefined;

/**
 * ~1 KB events (the target size, counted as UTF-8 bytes of the signed event's JSON): a
 * text message with mixed-script body, formatted body, relation and a realistic PDU envelope.
 */
function makeEvent(i: number): JsonObject {
  const words = ['hello', 'café', '日本語', 'meeting', 'at', 'noon', '🎉', 'deploy', 'tomorrow'];
  let body = '';
  while (body.length < 85) body += `${words[(body.length + i) % words.length]} `;
  return {
    type: 'm.room.message',
    room_id: '!n-5mFoQMauVkwzjv4npH5iqn-C5Ejw4XKrHQh1kibl8',
    sender: `@user${i}:bench.example.org`,
    origin_server_ts: 1_700_000_000_000 + i,
    depth: 1000 + i,
    prev_events: [`$prev${i}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`],
    auth_events: [
      '$auth1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '$auth2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '$auth3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    ],
    content: {
      msgtype: 'm.text',
      body,
      format: 'org.matrix.custom.html',
      formatted_body: `<p>${Array.from(body).slice(0, 200).join('')}</p>`,
      'm.relates_to': { rel_type: 'm.thread', event_id: `$root${i}` },
    },
    unsigned: { age_ts: 1_700_000_000_000 },
  };
}

const events = Array.from({ length: COUNT }, (_, i) =>
  signEvent(makeEvent(i), ROOM_VERSION, 'bench.example.org', key),
);
const averageSize = Math.round(
  events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0) / events.length,
);

// The ceiling's inputs, computed once outside the timed loop.
const keyObject = createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey]),
  format: 'der',
  type: 'spki',
});
const prepared = events.map((event) => {
  const signatures = event['signatures'] as Record<string, Record<string, string>>;
  return {
    bytes: signedBytes(redactEvent(event, ROOM_VERSION)),
    signature: decodeBase64(signatures['bench.example.org']?.[key.keyId] ?? ''),
  };
});

for (const event of events) {
  const outcome = verifyEvent(event, ROOM_VERSION, lookup);
  if (outcome.status !== 'valid') throw new Error(`bench event does not verify: ${outcome.status}`);
}

/**
 * The machine may be shared (other processes compete for the cores), so comparisons count this
 * process's CPU time rather than wall time, and the sides of a comparison alternate in small
 * batches so that both run under the same conditions throughout (@weft/bench's
 * `measureInterleaved`).
 */
function measureCpu(name: string, fn: () => unknown, millis: number): Measurement {
  return measureInterleaved([{ name, fn }], { millis }).mean[0] as Measurement;
}

let i = 0;
const paired = measureInterleaved(
  [
    {
      name: 'weft verifyEvent (native)',
      fn: () => verifyEvent(events[i++ % COUNT] as JsonObject, ROOM_VERSION, lookup),
    },
    {
      name: 'crypto.verify on bytes (ceiling)',
      fn: () => {
        const p = prepared[i++ % COUNT];
        if (p !== undefined) verify(null, p.bytes, keyObject, p.signature);
      },
    },
  ],
  { millis: MILLIS * ROUNDS, warmUp: 50 },
);
const [weft, ceiling] = paired.mean as [Measurement, Measurement];
const [weftBest, ceilingBest] = paired.best as [Measurement, Measurement];
useBackend('pure');
const pure = measureCpu(
  'weft verifyEvent (pure @noble)',
  () => verifyEvent(events[i++ % COUNT] as JsonObject, ROOM_VERSION, lookup),
  MILLIS,
);
useBackend('native');

console.log(
  `events: ${COUNT} distinct room-v${ROOM_VERSION} m.room.message PDUs, ~${averageSize} bytes of JSON (UTF-8) each`,
);
printComparison('Events verified per CPU-second (signature + content hash), average', weft, [
  ceiling,
  pure,
]);
printComparison('Events verified per CPU-second, fastest batch of each side', weftBest, [
  ceilingBest,
]);
const ratio = (a: Measurement, b: Measurement) => (a.opsPerSecond / b.opsPerSecond).toFixed(2);
// The most load-resistant figure: per round, weft's batch against the ceiling's batch run right
// after it, then the median over all rounds.
const median = pairedRatio(paired, 0, 1).toFixed(2);
console.log(
  `\n  target ≥ 0.80× the ceiling: median of paired batches ${median}×, ` +
    `average ${ratio(weft, ceiling)}×, fastest batches ${ratio(weftBest, ceilingBest)}× ` +
    `(${paired.batches[0]?.length ?? 0} rounds)`,
);

const signed = measureCpu(
  'weft signEvent (native)',
  () => {
    signEvent(makeEvent(i++ % COUNT), ROOM_VERSION, 'bench.example.org', key);
  },
  MILLIS,
);
printComparison('Events signed per CPU-second', signed, []);
