/**
 * A worker thread of verify-parallel.ts: runs the per-PDU checks (verify-pdu.ts: event ID,
 * format, signatures, content hash) on its share of a send_join answer and posts one result per
 * PDU. PDUs travel as JSON texts, one per PDU (strings copy far faster between threads than
 * object trees), and only event IDs come back, plus the redacted copy of a PDU whose hash
 * failed. It imports no HTTP code, so it starts quickly, and keeps no state between jobs; keys
 * come with the job.
 */

import { parentPort } from 'node:worker_threads';
import { parseAnyJson } from '@weft/canonical-json';

import { roomVersionRules } from '@weft/dag';
import type { KeyLookup } from '@weft/signing';

import { checkPduOutcome, type VerifyOutcome } from './verify-pdu.ts';

/** What the main thread sends: the PDUs and the verify keys their signatures name. */
export interface VerifyJob {
  readonly roomVersion: string;
  /** `entity\0keyId` → key, as the main thread's lookup answers it without a timestamp. */
  readonly keys: ReadonlyMap<string, Uint8Array | string>;
  /**
   * Each PDU's JSON text. Not one array text of them all: posting 256 texts joined into one
   * string cost this thread 7–9 µs a PDU and the worker 5–7 µs to take it, against 0.2 and
   * 1.5–2.5 µs as an array of texts (2026-11-29, session 5).
   */
  readonly events: readonly string[];
  /** Per PDU (same index), keys whose answer differs at that PDU's `origin_server_ts`. */
  readonly overrides: ReadonlyMap<number, ReadonlyMap<string, Uint8Array | string | undefined>>;
}

/** Runs `job`. */
export function runVerifyJob(job: VerifyJob): VerifyOutcome[] {
  const events = job.events.map((text) => parseAnyJson(text) as unknown);
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
