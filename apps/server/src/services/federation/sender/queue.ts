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
 * never as an unhandled rejection. A transaction the destination refuses for good (a 4xx answer
 * other than 401, 408 and 429: malformed, forbidden, too large, no such endpoint) is dropped —
 * its rows deleted and logged — rather than retried forever ahead of everything queued after it;
 * the destination can still fetch its PDUs later (backfill, `get_missing_events`).
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
 * Whether the destination's answer refuses the transaction for good: a 4xx other than 401
 * (it may not have our key yet), 408 and 429. Resending the same transaction cannot succeed.
 */
function permanentRefusal(error: unknown): boolean {
  if (!(error instanceof MatrixError)) return false;
  const { status } = error;
  return status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429;
}

interface DestinationState {
  sending: boolean;
  /** Rows were queued during the attempt in flight: look again when it ends. */
  again: boolean;
  /** The destination contacted us during the attempt in flight: retry at once if it failed. */
  retryNow: boolean;
  failures: number;
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
    let rows: Array<{ id: number; kind: string; payload: string }>;
    try {
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
    } catch (error) {
      if (this.#stopped) return 'empty';
      throw error;
    }
    if (rows.length === 0) return 'empty';
    const ids = rows.map((row) => Number(row.id)).sort((a, b) => a - b);
    const txnId = `${ids[0]}-${ids[ids.length - 1]}-${ids.length}`;
    const body = {
      origin: this.#ctx.config.serverName,
      origin_server_ts: this.#ctx.now(),
      pdus: rows.filter((row) => row.kind === 'pdu').map((row) => parseAnyJson(row.payload)),
      edus: rows.filter((row) => row.kind === 'edu').map((row) => parseAnyJson(row.payload)),
    };
    this.#state(destination).attempts += 1;
    try {
      await this.#client.request(
        destination,
        'PUT',
        matrixPath`/_matrix/federation/v1/send/${txnId}`,
        body,
        { retry: false, timeoutMs: 60_000 },
      );
    } catch (error) {
      if (permanentRefusal(error)) {
        const { status, errcode } = error as MatrixError;
        this.#ctx.log.warn('federation transaction refused: dropped', {
          destination,
          txn_id: txnId,
          status,
          errcode,
          pdus: body.pdus.length,
          edus: body.edus.length,
        });
        if (this.#stopped) return 'empty';
        await this.#delete(ids);
        return 'sent';
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
    return 'sent';
  }

  async #delete(ids: readonly number[]): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      for (const chunk of inListChunks(ids)) {
        await tx.execute(
          `DELETE FROM federation_outbound WHERE id IN (${placeholders(chunk.length)})`,
          chunk,
        );
      }
    });
  }
}
