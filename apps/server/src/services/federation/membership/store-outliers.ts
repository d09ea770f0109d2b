/**
 * Storing a big `send_join` answer's events while the answer is still being checked: each PDU
 * that passed the per-PDU checks (event ID, format, signatures, hashes — verify-pdu.ts) is
 * written as an outlier (no stream position, no state group: clients see such events as room
 * state, never as timeline — as store-remote-room.ts always stored them), in write
 * transactions of {@link BATCH} rows that this thread runs between its own verification chunks
 * (verify-parallel.ts), so the worker threads keep verifying while the rows go in. Before, the
 * 30,000 rows went in after the whole check, in the final transaction, with the workers idle.
 *
 * The authorization rules come after every PDU is checked, so a row stored here can still be
 * refused: store-remote-room.ts deletes the ones this join inserted and the rules refused, in
 * the transaction that makes the room local. A join that fails afterwards leaves its outliers
 * behind only when the room is known here (they are signed events of that room, as any
 * outlier); otherwise {@link EarlyOutliers.discard} removes them.
 */
import type { Database, SqlExecutor, SqlValue } from '../../../storage/index.ts';
import type { VerifiedPduSink } from './verify-parallel.ts';
import type { VerifiedPdu } from './verify-pdu.ts';

/**
 * Rows per early write transaction (≈ 40 ms of this thread on SQLite): every commit may also
 * checkpoint the WAL, so fewer, bigger ones; inside one, this thread yields every
 * {@link YIELD_EVERY} rows so a worker's answer gets its next chunk without waiting for the commit.
 */
const BATCH = 2_048;
const YIELD_EVERY = 256;
/** Rows per INSERT on PostgreSQL (round trips); SQLite runs one prepared row at a time. */
const PG_ROWS_PER_INSERT = 100;

const INSERT_HEAD = `INSERT INTO events (event_id, room_id, depth, type, state_key, sender,
  origin_server_ts, pdu, stream_position, unsigned, state_group, outlier) VALUES`;

/** Inserts `pdus` of `roomId` as outlier rows; resolves to the IDs inserted (not already there). */
export async function insertOutlierRows(
  tx: SqlExecutor,
  dialect: Database['dialect'],
  roomId: string,
  pdus: readonly VerifiedPdu[],
): Promise<string[]> {
  const rowOf = (event: VerifiedPdu): SqlValue[] => [
    event.eventId,
    roomId,
    event.dag.depth,
    event.dag.type,
    event.dag.state_key ?? null,
    event.dag.sender,
    event.dag.origin_server_ts,
    event.pduText ?? JSON.stringify(event.pdu),
  ];
  const inserted: string[] = [];
  if (dialect === 'sqlite') {
    // In-process: one prepared single-row statement a row measured 1.5–1.9× cheaper in CPU than
    // 100-row VALUES lists (see the 2026-11-29 decision record on row-at-a-time inserts).
    const sql = `${INSERT_HEAD} ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, 1)
      ON CONFLICT (event_id) DO NOTHING`;
    for (const event of pdus) {
      if ((await tx.execute(sql, rowOf(event))) > 0) inserted.push(event.eventId);
    }
    return inserted;
  }
  for (let start = 0; start < pdus.length; start += PG_ROWS_PER_INSERT) {
    const params: SqlValue[] = [];
    const tuples = pdus.slice(start, start + PG_ROWS_PER_INSERT).map((event) => {
      const marks = rowOf(event).map((value) => {
        params.push(value);
        return `$${params.length}`;
      });
      return `(${marks.join(', ')}, NULL, NULL, NULL, 1)`;
    });
    const rows = await tx.query<{ event_id: string }>(
      `${INSERT_HEAD} ${tuples.join(', ')} ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      params,
    );
    for (const row of rows) inserted.push(row.event_id);
  }
  return inserted;
}

/** The outliers one join stores while its answer is checked. */
export class EarlyOutliers implements VerifiedPduSink {
  readonly #db: Database;
  readonly #roomId: string;
  /** The join itself is stored as the timeline event it is, never as an outlier. */
  readonly #joinId: string;
  readonly #batch: number;
  readonly #pending: VerifiedPdu[] = [];
  #checkpointed = false;
  /** Every PDU queued for storing, by event ID: the copy that was (or will be) written. */
  readonly attempted = new Map<string, VerifiedPdu>();
  /** The event IDs whose row this join inserted (the others were there already). */
  readonly inserted = new Set<string>();

  constructor(db: Database, roomId: string, joinId: string, batch = BATCH) {
    this.#db = db;
    this.#roomId = roomId;
    this.#joinId = joinId;
    this.#batch = batch;
  }

  add(pdus: readonly VerifiedPdu[]): void {
    for (const pdu of pdus) {
      if (pdu.eventId === this.#joinId || this.attempted.has(pdu.eventId)) continue;
      this.attempted.set(pdu.eventId, pdu);
      this.#pending.push(pdu);
    }
  }

  /**
   * Writes the next full batch in its own transaction; false when less than a batch waits
   * (with `drain`, when nothing waits).
   */
  async step(drain = false): Promise<boolean> {
    if (await this.#write(drain ? 1 : this.#batch)) return true;
    return drain && (await this.#checkpointOnce());
  }

  /**
   * SQLite: once the early rows are in and this thread has nothing left to check, copies the
   * write-ahead log into the database now (a passive checkpoint), while the workers finish their
   * last chunks. The ≈ 30 MB these rows add to the log otherwise made the room's final commit
   * cross `wal_autocheckpoint` and run that checkpoint itself, on this thread alone after the
   * check: that commit took 190–280 ms, 40–50 ms without it. Once per join; PostgreSQL has
   * nothing of the kind to do.
   */
  async #checkpointOnce(): Promise<boolean> {
    if (this.#checkpointed || this.#db.dialect !== 'sqlite' || this.inserted.size === 0) {
      return false;
    }
    this.#checkpointed = true;
    await this.#db.executeScript('PRAGMA wal_checkpoint(PASSIVE)');
    return true;
  }

  /** Writes everything still queued. */
  async flush(): Promise<void> {
    while (await this.#write(1)) {
      // one batch a transaction
    }
  }

  async #write(atLeast: number): Promise<boolean> {
    if (this.#pending.length < atLeast || this.#pending.length === 0) return false;
    const batch = this.#pending.splice(0, this.#batch);
    const ids = await this.#db.transaction(async (tx) => {
      const inserted: string[] = [];
      for (let start = 0; start < batch.length; start += YIELD_EVERY) {
        if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const part = batch.slice(start, start + YIELD_EVERY);
        inserted.push(...(await insertOutlierRows(tx, this.#db.dialect, this.#roomId, part)));
      }
      return inserted;
    });
    for (const id of ids) this.inserted.add(id);
    return true;
  }

  /**
   * After a failed join: deletes the rows this join inserted while the room is not known here
   * (a room that is — a rejoin, or a concurrent join that succeeded — keeps its outliers).
   */
  async discard(): Promise<void> {
    this.#pending.length = 0;
    if (this.inserted.size === 0) return;
    const ids = [...this.inserted];
    this.inserted.clear();
    await this.#db.transaction(async (tx) => {
      const room = await tx.queryOne('SELECT 1 AS known FROM rooms WHERE room_id = $1', [
        this.#roomId,
      ]);
      if (room !== undefined) return;
      for (const id of ids) {
        await tx.execute(
          'DELETE FROM events WHERE event_id = $1 AND outlier = 1 AND stream_position IS NULL',
          [id],
        );
      }
    });
  }
}
