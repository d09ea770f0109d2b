/**
 * A worker thread of verify-parallel.ts: runs the per-PDU checks (verify-pdu.ts: event ID,
 * format, signatures, content hash) on its share of a send_join answer and posts one result per
 * PDU. PDUs travel as JSON text (a string copies far faster between threads than an object tree)
 * and only event IDs come back, plus the redacted copy of a PDU whose hash failed. It imports
 * no HTTP code, so it starts quickly, and keeps no state between jobs; keys come with the job.
 */
import { parentPort } from 'node:worker_threads';

import { roomVersionRules } from '@weft/dag';
import type { KeyLookup } from '@weft/signing';

import { checkPduOutcome, type VerifyOutcome } from './verify-pdu.ts';

export type { VerifyOutcome } from './verify-pdu.ts';

/** What the main thread sends: the PDUs and the verify keys their signatures name. */
export interface VerifyJob {
  readonly roomVersion: string;
  /** `entity\0keyId` → key, as the main thread's lookup answers it without a timestamp. */
  readonly keys: ReadonlyMap<string, Uint8Array | string>;
  /** The PDUs as one JSON array text (one string crosses threads with a single copy). */
  readonly events: string;
  /** Per PDU (same index), keys whose answer differs at that PDU's `origin_server_ts`. */
  readonly overrides: ReadonlyMap<number, ReadonlyMap<string, Uint8Array | string | undefined>>;
}

/** Runs `job`. */
export function runVerifyJob(job: VerifyJob): VerifyOutcome[] {
  const events = JSON.parse(job.events) as unknown[];
  const rules = roomVersionRules(job.roomVersion);
  if (rules === undefined) return events.map(() => ({ rejected: true }));
  return events.map((raw, i) => {
    const overrides = job.overrides.get(i);
    const lookup: KeyLookup = (entity, keyId) => {
      const id = `${entity}\u0000${keyId}`;
      return overrides?.has(id) ? overrides.get(id) : job.keys.get(id);
    };
    return checkPduOutcome(raw, rules, lookup);
  });
}

parentPort?.on('message', (job: VerifyJob) => {
  parentPort?.postMessage(runVerifyJob(job));
});
