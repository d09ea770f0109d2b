/**
 * Shared shapes of the receipt pipeline (spec server-server-api "Checks performed on receipt of
 * a PDU"). Each step lives in its own file and either passes or throws a {@link PduRejection}.
 */
import type { DagEvent, RoomVersionRules } from '@weft/dag';
import type { ServerContext } from '../../core/context.ts';
import type { RoomService } from '../../rooms/index.ts';
import type { FederationClient } from '../client.ts';
import type { ServerKeyStore } from '../keys/key-store.ts';

/** What the steps need. */
export interface HandlerDeps {
  readonly ctx: ServerContext;
  readonly rooms: RoomService;
  readonly keys: ServerKeyStore;
  readonly client: FederationClient;
}

/** A PDU that passed the format check: the JSON to store and its DAG view. */
export interface CheckedPdu {
  readonly eventId: string;
  readonly roomId: string;
  readonly roomVersion: string;
  readonly rules: RoomVersionRules;
  /** The PDU as it will be stored (the redacted copy after a content-hash mismatch). */
  pdu: Record<string, unknown>;
  dag: DagEvent;
}

/** Why a PDU was dropped or rejected; `message` goes into the `/send` results map. */
export class PduRejection extends Error {
  override readonly name = 'PduRejection';
  readonly step:
    | 'format'
    | 'signatures'
    | 'auth-events'
    | 'state-before'
    | 'unknown-room'
    | 'server-acl'
    | 'missing-events';
  /**
   * Stored as rejected (true: the auth rules refused it) or not stored at all (false: format and
   * signature failures, and auth events or prev events this server could not get — no verdict).
   */
  readonly store: boolean;

  /**
   * `message` is what the remote server is told; `cause`, the internal error behind it (a
   * network or address-policy failure, whose text may name hosts and addresses), is only logged.
   */
  constructor(step: PduRejection['step'], message: string, store = false, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.step = step;
    this.store = store;
  }
}
