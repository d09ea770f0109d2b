/**
 * The one error class of `@weft/dag`.
 *
 * Authorization failures are not errors: `checkAuth` returns a typed verdict. `DagError` is thrown
 * for malformed input (PDU format checks) and for conditions the algorithms cannot work around
 * (e.g. an event the storage callbacks cannot supply).
 */

const MARKER = Symbol.for('weft.dag.error');

/** Every reason a `DagError` is thrown. */
export type DagErrorCode =
  /** A required PDU key is missing. */
  | 'missing-key'
  /** A PDU key has the wrong JSON type (or an integer is out of range). */
  | 'wrong-type'
  /** The event cannot be encoded as canonical JSON (floats, out-of-range integers, …). */
  | 'invalid-json'
  /** The event's canonical JSON exceeds 65,536 bytes. */
  | 'event-too-large'
  /** An identifier (sender, room ID, type, state key, event ID) exceeds 255 bytes or is malformed. */
  | 'invalid-identifier'
  /** The room version is unknown or unsupported. */
  | 'unknown-room-version'
  /** An event needed by an algorithm could not be fetched. */
  | 'missing-event'
  /** The events do not form a DAG (a cycle among prev_events or auth_events). */
  | 'cycle';

/** Optional context carried by a {@link DagError}. */
export interface DagErrorContext {
  /** The event concerned, when known. */
  readonly eventId?: string | undefined;
  /** Path of the offending key inside the event, e.g. `content.users`. */
  readonly path?: string | undefined;
  /** What was expected there. */
  readonly expected?: string | undefined;
  /** What was found (a type name or size, never a secret). */
  readonly got?: string | undefined;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * Error thrown by `@weft/dag`. Test with {@link DagError.isInstance}, which works across
 * duplicated installs where `instanceof` does not.
 */
export class DagError extends Error {
  /** What went wrong, as a stable machine-readable code. */
  readonly code: DagErrorCode;
  /** The event concerned, when known. */
  readonly eventId: string | undefined;
  /** Path of the offending key inside the event, e.g. `content.users`. */
  readonly path: string | undefined;
  /** What was expected at `path`. */
  readonly expected: string | undefined;
  /** What was found at `path` (a type name or size, never the value itself). */
  readonly got: string | undefined;
  readonly [MARKER] = true;

  constructor(code: DagErrorCode, message: string, context: DagErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'DagError';
    this.code = code;
    this.eventId = context.eventId;
    this.path = context.path;
    this.expected = context.expected;
    this.got = context.got;
  }

  /** True when `e` is a `DagError` from any copy of this package. */
  static isInstance(e: unknown): e is DagError {
    return typeof e === 'object' && e !== null && (e as { [MARKER]?: unknown })[MARKER] === true;
  }
}
