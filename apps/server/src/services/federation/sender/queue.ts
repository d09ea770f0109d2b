/**
 * The outbound federation queue (spec server-server-api "Transactions"): one queue per
 * destination, persisted in `federation_outbound`, so nothing is lost when this server restarts
 * — a row is deleted only after the destination answered 200 to the transaction carrying it.
 * Each destination has at most one transaction in flight, of at most 50 PDUs and 100 EDUs in
 * queue order; what is queued while one is in flight goes in the next. After a failure it waits
 * with exponential backoff (doubling, capped at a day, as Synapse backs off for hours) — new
 * events queued meanwhile wait too, rather than each paying for an attempt at a server that is
 * down — and catches up as soon as it succeeds again, or at once when that server contacts us
 * ({@link FederationSender.contacted}). A database error counts as a failure (logged, backoff),
 * never as an unhandled rejection.
 *
 * Only a genuine Matrix refusal of the transaction ({@link matrixRefusal}: status 400, 403 or
 * 413 with a JSON body whose `errcode` starts `M_`) drops anything, so it is not retried forever
 * ahead of everything queued after it: its PDUs (the destination can still fetch them later —
 * backfill, `get_missing_events`) and its ephemeral EDUs (typing, receipts, presence) are
 * deleted and logged. Its to-device messages, device-list and signing-key updates
 * ({@link UNRECOVERABLE_EDU_TYPES}) cannot be fetched later, so they stay queued — but one of
 * them may be what the destination refuses, and riding in every later transaction it would get
 * each refused in turn. So they are sent next, before anything else, in a transaction of their
 * own; refused again together, one per transaction; and one refused alone is dropped — if the
 * destination takes an empty transaction just after, so that EDU is the cause; if it refuses that
 * too, it refuses everything (a federation whitelist, a passing fault) and the EDU stays queued,
 * with backoff (see `#refused`). The rows a refusal kept say so in their `kept` column (migration
 * 0130), so after a restart they still go first and alone. Any other error answer — a reverse
 * proxy's HTML 404, a WAF's 403, a JSON body without a Matrix errcode, 401, 408, 429, 5xx — is a
 * failure with backoff that keeps the whole transaction queued.
 *
 * The transaction ID names the first and last queue rows it carries, so a retry after a crash
 * re-sends the same ID with the same content, and the receiver answers it from its replay cache.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError, matrixPath } from '@weft/transport';

import { inListChunks, placeholders } from '../../../storage/in-list.ts';
import type { SqlExecutor } from '../../../storage/index.ts';
import type { ServerContext } from '../../core/context.ts';
import type { FederationClient } from '../client.ts';

/** Spec "Transactions": at most 50 PDUs and 100 EDUs per transaction. */
export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;

/** Backoff after the first failure, and its ceiling. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 24 * 60 * 60 * 1000 };

/** The wait after `failures` consecutive failures (≥ 1) under `policy`. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 40));
}

/**
 * EDUs a refused transaction keeps queued: nothing lets the destination fetch them later (a
 * lost to-device message can be a lost room key; a lost device-list update leaves a stale
 * device list).
 */
export const UNRECOVERABLE_EDU_TYPES: ReadonlySet<string> = new Set([
  'm.direct_to_device',
  'm.device_list_update',
  'm.signing_key_update',
]);

/**
 * Whether the destination's answer is a genuine Matrix refusal of the transaction: status 400
 * (malformed), 403 (forbidden) or 413 (too large) with a JSON error body whose `errcode` starts
 * `M_`. The HTTP client turns any error status into a `MatrixError` — one without a JSON
 * `errcode` gets `M_UNKNOWN` and the message `HTTP <status>` — so a reverse proxy's or WAF's
 * answer is told apart by that pair, and is not a refusal.
 */
export function matrixRefusal(error: unknown): error is MatrixError {
  if (!MatrixError.isInstance(error)) return false;
  const { status, errcode } = error;
  if (status !== 400 && status !== 403 && status !== 413) return false;
  if (!errcode.startsWith('M_')) return false;
  return !(errcode === 'M_UNKNOWN' && error.message === `HTTP ${status}`);
}

/**
 * The `edu_type` of a queued EDU row, read as the transaction body reads it (`parseAnyJson`).
 * Migration 0129 has its own copy, on purpose: see there.
 */
function eduType(payload: string): string | undefined {
  try {
    const edu = parseAnyJson(payload) as { edu_type?: unknown } | null;
    return typeof edu?.edu_type === 'string' ? edu.edu_type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `federation_outbound.kept` (migration 0130) of a row a refusal kept: to go next with the other
 * kept rows, or one per transaction. 0 for every other row.
 */
const KEPT = 1;
const KEPT_SINGLY = 2;

interface QueueRow {
  readonly id: number;
  readonly kind: string;
  readonly payload: string;
}

interface DestinationState {
  sending: boolean;
  /** Rows were queued during the attempt in flight: look again when it ends. */
  again: boolean;
  /** The destination contacted us during the attempt in flight: retry at once if it failed. */
  retryNow: boolean;
  failures: number;
  /**
   * Queue rows a refused transaction kept ({@link UNRECOVERABLE_EDU_TYPES}), in queue order: the
   * next transactions carry these and nothing else. Their rows' `kept` column says so too, read
   * once after a start (`#readKept`): without it they would ride in an
   * ordinary transaction again, and a poison EDU would cost that transaction's PDUs.
   */
  kept: readonly QueueRow[];
  /** {@link kept} was read from the database (once per destination and start). */
  keptRead: boolean;
  /** The kept rows were refused together: send them one per transaction. */
  keptSingly: boolean;
  /** Transactions attempted (tests, metrics). */
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** What {@link FederationSender.destinationStatus} reports. */
export interface DestinationStatus {
  readonly attempts: number;
  /** Failures since the last success. */
  readonly failures: number;
  /** Waiting out a backoff before the next attempt. */
  readonly backingOff: boolean;
}

/** Queues PDUs and EDUs and delivers them per destination. */
export class FederationSender {
  readonly #ctx: ServerContext;
  readonly #client: FederationClient;
  readonly #backoff: BackoffPolicy;
  readonly #destinations = new Map<string, DestinationState>();
  #stopped = false;

  constructor(ctx: ServerContext, client: FederationClient, backoff = DEFAULT_BACKOFF) {
    this.#ctx = ctx;
    this.#client = client;
    this.#backoff = backoff;
  }

  /** Queues a PDU for `destinations` inside the caller's transaction (commits with the event). */
  async queuePdu(
    tx: SqlExecutor,
    destinations: readonly string[],
    pdu: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const payload = JSON.stringify(pdu);
    for (const destination of destinations) {
      await tx.execute(
        "INSERT INTO federation_outbound (destination, kind, payload) VALUES ($1, 'pdu', $2)",
        [destination, payload],
      );
    }
  }

  /** Queues an EDU inside the caller's transaction; delivery starts shortly after. */
  async queueEduInTransaction(
    tx: SqlExecutor,
    destinations: readonly string[],
    edu: { readonly edu_type: string; readonly content: unknown },
  ): Promise<void> {
    const payload = JSON.stringify(edu);
    for (const destination of destinations) {
      await tx.execute(
        "INSERT INTO federation_outbound (destination, kind, payload) VALUES ($1, 'edu', $2)",
        [destination, payload],
      );
    }
    // After the caller's COMMIT: before it, another connection (PostgreSQL) sees no rows.
    tx.afterCommit(() => {
      for (const destination of destinations) this.wake(destination);
    });
  }

  /** Queues an EDU for `destinations` and starts delivery. */
  async queueEdu(
    destinations: readonly string[],
    edu: { readonly edu_type: string; readonly content: unknown },
  ): Promise<void> {
    if (destinations.length === 0) return;
    const payload = JSON.stringify(edu);
    await this.#ctx.db.transaction(async (tx) => {
      for (const destination of destinations) {
        await tx.execute(
          "INSERT INTO federation_outbound (destination, kind, payload) VALUES ($1, 'edu', $2)",
          [destination, payload],
        );
      }
    });
    for (const destination of destinations) this.wake(destination);
  }

  /**
   * Queues EDUs of `eduType` whose contents supersede the ones of that type still queued: for
   * each destination of `merges`, its function gets the contents of those pending EDUs (oldest
   * first) and returns the contents to queue in their place — all in one transaction. A
   * destination that is down then holds the latest state (presence: one per user) instead of a
   * row per change, which grew without bound and replayed stale states on its return.
   *
   * The pending rows are deleted and the merged ones inserted, never updated in place: a
   * transaction in flight may carry a pending row, and the 200 that deletes it must not delete
   * the newer state with it (nor may a retry of its ID carry other content).
   *
   * The rows queued here carry `eduType` in `supersede_key` (migration 0129), which finds them
   * again: not their JSON text, whose spelling is no contract.
   */
  async queueSupersedingEdus(
    eduType: string,
    merges: ReadonlyMap<string, (pending: unknown[]) => readonly unknown[]>,
  ): Promise<void> {
    if (merges.size === 0) return;
    await this.#ctx.db.transaction(async (tx) => {
      for (const [destination, merge] of merges) {
        const pending = await tx.query<{ id: number; payload: string }>(
          `SELECT id, payload FROM federation_outbound
            WHERE destination = $1 AND supersede_key = $2
            ORDER BY id`,
          [destination, eduType],
        );
        const contents = merge(
          pending.map((row) => (parseAnyJson(row.payload) as { content: unknown }).content),
        );
        await deleteRows(
          tx,
          pending.map((row) => Number(row.id)),
        );
        for (const content of contents) {
          await tx.execute(
            `INSERT INTO federation_outbound (destination, kind, payload, supersede_key)
             VALUES ($1, 'edu', $2, $3)`,
            [destination, JSON.stringify({ edu_type: eduType, content }), eduType],
          );
        }
      }
    });
    for (const destination of merges.keys()) this.wake(destination);
  }

  /**
   * Starts delivery to `destination` after rows were queued for it — unless it is backing off
   * after a failure: the attempt its timer makes carries them.
   */
  wake(destination: string): void {
    if (this.#stopped) return;
    const state = this.#state(destination);
    if (state.timer !== undefined) return;
    if (state.sending) {
      state.again = true;
      return;
    }
    this.#start(destination, state);
  }

  /**
   * `destination` contacted us, so it is evidently up again: delivery starts at once, skipping
   * any backoff wait.
   */
  contacted(destination: string): void {
    if (this.#stopped) return;
    const state = this.#state(destination);
    if (state.timer !== undefined) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
    if (state.sending) {
      state.again = true;
      state.retryNow = true;
      return;
    }
    this.#start(destination, state);
  }

  /** Wakes every destination with queued rows (at start: catch-up after a restart). */
  async resume(): Promise<void> {
    const rows = await this.#ctx.db.query<{ destination: string }>(
      'SELECT DISTINCT destination FROM federation_outbound',
    );
    for (const row of rows) this.wake(row.destination);
  }

  /** Stops sending (rows stay queued for the next start). */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#destinations.values()) {
      if (state.timer !== undefined) clearTimeout(state.timer);
      state.timer = undefined;
    }
  }

  /** Rows still queued for `destination` (tests, metrics). */
  async pending(destination: string): Promise<number> {
    const row = await this.#ctx.db.queryOne<{ n: number }>(
      'SELECT COUNT(*) AS n FROM federation_outbound WHERE destination = $1',
      [destination],
    );
    return Number(row?.n ?? 0);
  }

  /** Attempts, failures and backoff of `destination` (tests, metrics). */
  destinationStatus(destination: string): DestinationStatus {
    const state = this.#state(destination);
    return {
      attempts: state.attempts,
      failures: state.failures,
      backingOff: state.timer !== undefined,
    };
  }

  #state(destination: string): DestinationState {
    let state = this.#destinations.get(destination);
    if (state === undefined) {
      state = {
        sending: false,
        again: false,
        retryNow: false,
        failures: 0,
        kept: [],
        keptRead: false,
        keptSingly: false,
        attempts: 0,
        timer: undefined,
      };
      this.#destinations.set(destination, state);
    }
    return state;
  }

  /** Runs {@link #run}; it never rejects, but a rejection must not go unhandled either. */
  #start(destination: string, state: DestinationState): void {
    this.#run(destination, state).catch((error: unknown) => {
      this.#ctx.log.error('federation sender failed', {
        destination,
        error: (error as Error)?.message ?? String(error),
      });
    });
  }

  async #run(destination: string, state: DestinationState): Promise<void> {
    state.sending = true;
    try {
      for (;;) {
        state.again = false;
        state.retryNow = false;
        if (this.#stopped) return;
        let sent: 'sent' | 'empty' | 'failed';
        try {
          sent = await this.#sendOne(destination);
        } catch (error) {
          // The database failed (reading or deleting rows): retry later, like a failed send.
          if (this.#stopped) return;
          this.#ctx.log.warn('federation queue database error', {
            destination,
            error: (error as Error)?.message ?? String(error),
          });
          sent = 'failed';
        }
        if (sent === 'failed') {
          state.failures += 1;
          const delay = backoffDelay(this.#backoff, state.failures);
          if (!this.#stopped && !state.retryNow) {
            state.timer = setTimeout(() => {
              state.timer = undefined;
              this.wake(destination);
            }, delay);
            state.timer.unref?.();
            return;
          }
          continue;
        }
        state.failures = 0;
        if (sent === 'empty' && !state.again) return;
      }
    } finally {
      state.sending = false;
    }
  }

  async #sendOne(destination: string): Promise<'sent' | 'empty' | 'failed'> {
    const state = this.#state(destination);
    let isolated: boolean;
    let rows: readonly QueueRow[];
    try {
      if (!state.keptRead) await this.#readKept(destination, state);
      // The EDUs a refusal kept go before anything else, and alone (see #refused).
      isolated = state.kept.length > 0;
      if (isolated) {
        rows = state.keptSingly ? state.kept.slice(0, 1) : state.kept;
      } else {
        const pdus = await this.#ctx.db.query<{ id: number; kind: string; payload: string }>(
          `SELECT id, kind, payload FROM federation_outbound WHERE destination = $1 AND kind = 'pdu'
            ORDER BY id LIMIT ${MAX_PDUS_PER_TXN}`,
          [destination],
        );
        const edus = await this.#ctx.db.query<{ id: number; kind: string; payload: string }>(
          `SELECT id, kind, payload FROM federation_outbound WHERE destination = $1 AND kind = 'edu'
            ORDER BY id LIMIT ${MAX_EDUS_PER_TXN}`,
          [destination],
        );
        rows = [...pdus, ...edus];
      }
    } catch (error) {
      // A read the stop cut short is no failure: the rows stay queued for the next start.
      if (this.#stopped) return 'empty';
      throw error;
    }
    if (rows.length === 0) return 'empty';
    const ids = rows.map((row) => Number(row.id)).sort((a, b) => a - b);
    const txnId = `${ids[0]}-${ids[ids.length - 1]}-${ids.length}`;
    const pdus = rows.filter((row) => row.kind === 'pdu').map((row) => parseAnyJson(row.payload));
    const edus = rows.filter((row) => row.kind === 'edu').map((row) => parseAnyJson(row.payload));
    state.attempts += 1;
    try {
      await this.#put(destination, txnId, pdus, edus);
    } catch (error) {
      if (matrixRefusal(error)) {
        if (this.#stopped) return 'empty';
        return await this.#refused(destination, state, { txnId, rows, isolated, error });
      }
      this.#ctx.log.debug('federation transaction failed', {
        destination,
        txn_id: txnId,
        error: (error as Error).message,
      });
      return 'failed';
    }
    if (this.#stopped) return 'empty';
    await this.#delete(ids);
    if (isolated) forgetKept(state, ids);
    return 'sent';
  }

  /**
   * The destination refused the transaction `txnId` of `rows` as Matrix. Spec server-server-api
   * "Transactions" has the sender retry a transaction until it gets a 200 before sending another;
   * but one refused as malformed, forbidden or too large would be refused forever, holding up
   * everything queued after it. So what the destination can fetch later is dropped, and the
   * unrecoverable EDUs are kept and sent next, alone, so that if the refusal was for one of them
   * nothing else pays for it:
   * - an ordinary transaction: its PDUs and other EDUs are dropped, its unrecoverable EDUs go
   *   next together — one per transaction if they were all it carried, since the same
   *   transaction again would be refused the same;
   * - kept EDUs refused together: they go one per transaction;
   * - a kept EDU refused alone may be what the destination refuses, or the destination may
   *   refuse everything (Synapse answers 403 M_FORBIDDEN to a server outside its
   *   federation_domain_whitelist; or a passing fault on its side). An empty transaction tells
   *   them apart ({@link #probe}): taken, the EDU is the cause and is dropped, with a warning
   *   naming its type and never its content (a to-device message may carry a room key); refused
   *   or failed, it is a failure with backoff that keeps the EDU, as any other, to go first again.
   *   (Dropping it only if some transaction was taken since the refusals began needs no probe,
   *   but cannot tell an EDU refused with nothing queued beside it from a destination refusing
   *   everything: it would block, with backoff, everything queued behind it.)
   * So a refusal backs off only if the destination refuses the probe too; one poison EDU costs
   * at most three more transactions, plus one for each EDU kept beside it.
   */
  async #refused(
    destination: string,
    state: DestinationState,
    txn: { txnId: string; rows: readonly QueueRow[]; isolated: boolean; error: MatrixError },
  ): Promise<'sent' | 'failed'> {
    const { txnId, rows, isolated } = txn;
    const { status, errcode } = txn.error;
    if (!isolated) {
      const kept = rows.filter(
        (row) => row.kind === 'edu' && UNRECOVERABLE_EDU_TYPES.has(eduType(row.payload) ?? ''),
      );
      const dropped = rows.filter((row) => !kept.includes(row));
      this.#ctx.log.warn('federation transaction refused: dropped', {
        destination,
        txn_id: txnId,
        status,
        errcode,
        pdus: dropped.filter((row) => row.kind === 'pdu').length,
        edus: dropped.filter((row) => row.kind === 'edu').length,
        kept_edus: kept.length,
      });
      const singly = dropped.length === 0;
      const droppedIds = dropped.map((row) => Number(row.id));
      const keptIds = kept.map((row) => Number(row.id));
      // One write: a restart finds either the whole refusal's outcome or none of it.
      await this.#ctx.db.transaction(async (tx) => {
        await deleteRows(tx, droppedIds);
        await markKept(tx, keptIds, singly ? KEPT_SINGLY : KEPT);
      });
      state.kept = kept;
      state.keptSingly = singly;
      return 'sent';
    }
    if (rows.length > 1) {
      this.#ctx.log.warn('federation transaction of kept EDUs refused: sending them singly', {
        destination,
        txn_id: txnId,
        status,
        errcode,
        edus: rows.length,
      });
      const ids = rows.map((row) => Number(row.id));
      await this.#ctx.db.transaction((tx) => markKept(tx, ids, KEPT_SINGLY));
      state.keptSingly = true;
      return 'sent';
    }
    if (!(await this.#probe(destination, state))) {
      this.#ctx.log.debug('federation destination refuses even an empty transaction: kept', {
        destination,
        txn_id: txnId,
        status,
        errcode,
      });
      return 'failed';
    }
    if (this.#stopped) return 'sent';
    const ids = rows.map((row) => Number(row.id));
    this.#ctx.log.warn('federation EDU refused alone: dropped', {
      destination,
      txn_id: txnId,
      status,
      errcode,
      edu_type: eduType(rows[0]?.payload ?? ''),
    });
    await this.#delete(ids);
    forgetKept(state, ids);
    return 'sent';
  }

  /**
   * Whether `destination` takes a transaction with no PDUs and no EDUs (spec server-server-api
   * "Transactions": `pdus` is required, and may be empty). Its ID, `probe-` and a time and a
   * count no queue transaction's ID has, is never reused: a receiver's replay cache must not
   * answer it with an earlier 200.
   */
  async #probe(destination: string, state: DestinationState): Promise<boolean> {
    state.attempts += 1;
    const txnId = `probe-${this.#ctx.now()}-${state.attempts}`;
    try {
      await this.#put(destination, txnId, [], []);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends the transaction `txnId` (spec server-server-api `PUT /_matrix/federation/v1/send/{txnId}`). */
  async #put(
    destination: string,
    txnId: string,
    pdus: readonly unknown[],
    edus: readonly unknown[],
  ): Promise<void> {
    await this.#client.request(
      destination,
      'PUT',
      matrixPath`/_matrix/federation/v1/send/${txnId}`,
      { origin: this.#ctx.config.serverName, origin_server_ts: this.#ctx.now(), pdus, edus },
      { retry: false, timeoutMs: 60_000 },
    );
  }

  /** Reads the rows a refusal kept for `destination` before this start (see {@link #refused}). */
  async #readKept(destination: string, state: DestinationState): Promise<void> {
    const rows = await this.#ctx.db.query<{
      id: number;
      kind: string;
      payload: string;
      kept: number;
    }>(
      `SELECT id, kind, payload, kept FROM federation_outbound WHERE destination = $1 AND kept <> 0
        ORDER BY id`,
      [destination],
    );
    state.kept = rows.map(({ id, kind, payload }) => ({ id, kind, payload }));
    state.keptSingly = rows.some((row) => Number(row.kept) === KEPT_SINGLY);
    state.keptRead = true;
  }

  async #delete(ids: readonly number[]): Promise<void> {
    await this.#ctx.db.transaction((tx) => deleteRows(tx, ids));
  }
}

async function deleteRows(tx: SqlExecutor, ids: readonly number[]): Promise<void> {
  for (const chunk of inListChunks(ids)) {
    await tx.execute(
      `DELETE FROM federation_outbound WHERE id IN (${placeholders(chunk.length)})`,
      chunk,
    );
  }
}

/** Sets `kept` to `mark` on the rows `ids`. */
async function markKept(tx: SqlExecutor, ids: readonly number[], mark: number): Promise<void> {
  for (const chunk of inListChunks(ids)) {
    await tx.execute(
      `UPDATE federation_outbound SET kept = $1 WHERE id IN (${placeholders(chunk.length, 2)})`,
      [mark, ...chunk],
    );
  }
}

/** Removes the rows `ids` (delivered or dropped) from the ones a refusal kept. */
function forgetKept(state: DestinationState, ids: readonly number[]): void {
  state.kept = state.kept.filter((row) => !ids.includes(Number(row.id)));
  if (state.kept.length === 0) state.keptSingly = false;
}
