/**
 * The per-PDU checks of verify-received.ts without its HTTP errors, so worker threads
 * (verify-worker.ts) can run them without loading the HTTP stack: spec server-server-api "Checks
 * performed on receipt of a PDU",
 * https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu,
 * steps 1–3 in the spec's order — the format ("Is a valid event, otherwise it is dropped"), then
 * the signatures (dropped) with the event ID (reference hash), then the content hash (the
 * redacted copy is kept on a mismatch).
 */
import {
  checkPduFormat,
  DagError,
  type DagEvent,
  type PduFormatOptions,
  type RoomVersionRules,
} from '@weft/dag';
import {
  type EncodedEvent,
  encodeEventForVerification,
  type JsonObject,
  type KeyLookup,
  SigningError,
  verifyEncodedEvent,
} from '@weft/signing';
import { isObject } from '../../../json-object.ts';
import { requiredSigners } from '../required-signers.ts';

/** A received PDU that passed the signature and hash checks. */
export interface VerifiedPdu {
  readonly eventId: string;
  /** The PDU to store: as received, or its redacted copy when the content hash was wrong. */
  readonly pdu: Record<string, unknown>;
  readonly dag: DagEvent;
  /** Set when `pdu` is the redacted copy (the content hash did not match). */
  readonly redacted?: true;
  /** `JSON.stringify(pdu)` when the checker has it already (the row stored is this text). */
  readonly pduText?: string;
}

/** Why a PDU failed: bad JSON/format (400) or a signature problem (403). */
export interface PduFault {
  readonly fault: 'bad-json' | 'forbidden';
  readonly message: string;
}

/** Checks `raw`: its format, signatures and content hash; its event ID is its reference hash. */
export function checkReceivedPdu(
  raw: unknown,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
): VerifiedPdu | PduFault {
  const checked = checkPdu(raw, rules, keyLookup);
  if ('fault' in checked) return checked;
  const { eventId, pdu } = checked;
  const dag = { ...(pdu as unknown as DagEvent), event_id: eventId };
  return checked.redacted ? { eventId, pdu, dag, redacted: true } : { eventId, pdu, dag };
}

/** {@link checkReceivedPdu} without the `dag` view (a copy a worker's outcome does not need). */
function checkPdu(
  raw: unknown,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
): { eventId: string; pdu: Record<string, unknown>; redacted?: true } | PduFault {
  if (!isObject(raw)) {
    return { fault: 'bad-json', message: 'An event must be a JSON object' };
  }
  // An `event_id` key is not part of v4+ events; drop it so the reference hash decides the ID.
  const { event_id: _ignored, ...pdu } = raw as Record<string, unknown>;
  // One canonical encoding serves every check: the event ID (reference hash), the size the
  // format check counts, the signatures and the content hash. Encoding is no signature work:
  // step 1, the format, still runs before any key lookup or Ed25519 verification.
  let encoded: EncodedEvent;
  try {
    encoded = encodeEventForVerification(pdu as JsonObject, rules.id);
  } catch (error) {
    if (!SigningError.isInstance(error)) throw error;
    // Not encodable (a float, say): the format check names the fault, as it did when it encoded.
    return formatFault(pdu, rules, {}) ?? { fault: 'bad-json', message: 'Invalid event' };
  }
  const eventId = encoded.eventId;
  // Step 1, the format ("Is a valid event, otherwise it is dropped"): a malformed PDU is dropped
  // for what it is, and costs no key lookup or Ed25519 verification.
  const fault = formatFault(pdu, rules, { eventId, canonicalBytes: encoded.canonicalBytes });
  if (fault !== undefined) return fault;
  // Steps 2–3: the signatures, then the content hash (the redacted copy on a mismatch).
  // A restricted join must also carry its authorising user's server's signature
  // (required-signers.ts; spec "Validating hashes and signatures on received events").
  const requiredServers = requiredSigners(pdu, rules);
  const verification = verifyEncodedEvent(
    pdu as JsonObject,
    encoded,
    rules.id,
    keyLookup,
    requiredServers === undefined ? {} : { requiredServers },
  );
  switch (verification.status) {
    case 'valid':
      return { eventId, pdu };
    case 'redact':
      return { eventId, pdu: verification.redacted, redacted: true };
    case 'missing-key':
      return { fault: 'forbidden', message: `No verify key known for ${verification.entity}` };
    default:
      return { fault: 'forbidden', message: `Bad signature on event ${eventId}` };
  }
}

/**
 * One PDU's outcome in the compact form a verify worker posts back (verify-worker.ts) and the
 * parallel check records (verify-parallel.ts): its event ID, plus the redacted copy when its
 * content hash failed, or rejected.
 */
export type VerifyOutcome =
  | { readonly eventId: string; readonly redacted?: Record<string, unknown> }
  | { readonly rejected: true };

/** {@link checkReceivedPdu} as a {@link VerifyOutcome}: one conversion for every thread. */
export function checkPduOutcome(
  raw: unknown,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
): VerifyOutcome {
  const outcome = checkPdu(raw, rules, keyLookup);
  if ('fault' in outcome) return { rejected: true };
  return outcome.redacted
    ? { eventId: outcome.eventId, redacted: outcome.pdu }
    : { eventId: outcome.eventId };
}

/** The format check's verdict on `pdu` as a fault, or undefined when it passes. */
function formatFault(
  pdu: Record<string, unknown>,
  rules: RoomVersionRules,
  options: PduFormatOptions,
): PduFault | undefined {
  try {
    checkPduFormat(pdu, rules, options);
    return undefined;
  } catch (error) {
    if (DagError.isInstance(error)) {
      return { fault: 'bad-json', message: `Invalid event: ${error.message}` };
    }
    return { fault: 'bad-json', message: 'Invalid event' };
  }
}
