/**
 * The outbound queue (services/federation/sender/queue.ts) against a scripted destination
 * `d.test` — a real HTTPS server on loopback with a certificate from the test CA, answering
 * `PUT /send/{txnId}` as each test tells it — on the storage `storage` names (SQLite, or
 * PostgreSQL in the -postgres file):
 * - an EDU queued inside a transaction (`queueEduInTransaction`, device lists and cross-signing)
 *   is sent once that transaction commits, however long it stays open after queueing;
 * - a database error while reading or deleting queue rows is a failure with backoff — logged,
 *   never an unhandled rejection — and the rows go out once the database works again;
 * - a transaction the destination refuses as Matrix (400, 403, 413 with a JSON `M_` errcode) is
 *   dropped, not retried forever ahead of what is queued after it — except its to-device and
 *   device-list EDUs, which nothing can fetch later: they go next, alone, and one at a time if
 *   refused together; one refused alone is dropped if the destination then takes an empty
 *   transaction, so it never blocks the destination — and if it refuses that too, it refuses
 *   everything (a federation whitelist): nothing more is dropped, and it backs off;
 *   a non-Matrix answer (a proxy's HTML 404, a WAF's 403), 429 and 5xx keep it all queued;
 *   a restart remembers which EDUs a refusal kept, and whether one per transaction;
 * - the backoff for an unreachable destination grows to hours, not a minute;
 * - `queueSupersedingEdus` replaces the rows keyed as superseded by its type, however their JSON
 *   is spelled, and nothing else.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, expect, it } from 'vitest';

import {
  backoffDelay,
  DEFAULT_BACKOFF,
  FederationSender,
} from '../src/services/federation/sender/queue.ts';
import {
  createTestCa,
  eventually,
  issueCert,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer, TestServerOptions } from './harness.ts';

const D = 'd.test';
const EDU = { edu_type: 'm.typing', content: { room_id: '!r:a.test', typing: false } };

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** What a transaction `d.test` received carried. */
interface Txn {
  readonly pdus: Array<Record<string, unknown>>;
  readonly edus: Array<{ edu_type: string; content: Record<string, unknown> }>;
}

const FORBIDDEN: Answer = { status: 403, body: '{"errcode":"M_FORBIDDEN","error":"no"}' };
const OK: Answer = { status: 200, body: '{}' };

/** A to-device EDU whose `message_id` is `id`. */
function toDevice(id: string) {
  return {
    edu_type: 'm.direct_to_device',
    content: { sender: '@u:a.test', type: 'm.room_key', message_id: id, messages: {} },
  };
}

/** The to-device message IDs and PDU `n`s a transaction carried, in order. */
function carried(txn: Txn): unknown[] {
  return [
    ...txn.pdus.map((pdu) => pdu['n']),
    ...txn.edus.map((edu) => edu.content['message_id'] ?? edu.edu_type),
  ];
}

export function senderSuite(storage: () => TestServerOptions = () => ({})): void {
  let destination: Server;
  let federation: TestFederation;
  let a: TestServer;
  let sender: FederationSender;
  /** How `d.test` answers the next transactions. */
  let answer: (txnId: string, txn: Txn) => Promise<Answer> = async () => OK;
  /** Transaction IDs `d.test` received, in order. */
  const received: string[] = [];
  /** What each of them carried, and the status it was answered with. */
  const log: Array<{ txn: Txn; status: number }> = [];

  async function readBody(req: IncomingMessage): Promise<Txn> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = (text === '' ? {} : JSON.parse(text)) as Partial<Txn>;
    return { pdus: body.pdus ?? [], edus: body.edus ?? [] };
  }

  beforeAll(async () => {
    const ca = createTestCa();
    const cert = issueCert(ca, D);
    destination = createServer(
      { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
      (req, res) => {
        void (async () => {
          const txn = await readBody(req);
          const match = /^\/_matrix\/federation\/v1\/send\/([^/?]+)/.exec(req.url ?? '');
          if (req.method !== 'PUT' || match === null) {
            res.writeHead(404).end();
            return;
          }
          const txnId = decodeURIComponent(match[1] ?? '');
          received.push(txnId);
          const { status, body } = await answer(txnId, txn);
          log.push({ txn, status });
          res.writeHead(status, { 'content-type': 'application/json' }).end(body);
        })();
      },
    );
    await new Promise<void>((resolve) => destination.listen(0, '127.0.0.1', resolve));
    const port = (destination.address() as AddressInfo).port;
    federation = await startFederation(['a.test'], {
      ca,
      extraHosts: { [D]: `127.0.0.1:${port}` },
      ...storage(),
    });
    a = federation.server('a.test');
    // A sender of its own on A's database and federation client, with an hour-long backoff: no
    // retry comes from its timer while the tests run (contacted() retries at once).
    sender = new FederationSender(a.services.ctx, a.services.federation.client, {
      baseMs: 3_600_000,
      maxMs: 3_600_000,
    });
  }, 60_000);

  afterAll(async () => {
    sender?.stop();
    await federation?.close();
    destination?.closeAllConnections();
    await new Promise<void>((resolve) => destination?.close(() => resolve()));
  });

  /** Waits until `d.test` has no rows queued and the sender is idle. */
  async function drained(): Promise<void> {
    await eventually(async () => (await sender.pending(D)) === 0, 'the queue for d.test to empty');
  }

  it('sends an EDU queued in a transaction once that transaction commits', async () => {
    answer = async () => ({ status: 200, body: '{}' });
    const before = received.length;
    await a.services.ctx.db.transaction(async (tx) => {
      await sender.queueEduInTransaction(tx, [D], EDU);
      // The transaction stays open a while after queueing (more writes, a slow statement):
      // a wake-up that ran now would find nothing committed on PostgreSQL.
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    await drained();
    expect(received.length).toBe(before + 1);
    expect(sender.destinationStatus(D).failures).toBe(0);
  });

  it('treats a database error as a failure with backoff, and delivers once the database works', async () => {
    const db = a.services.ctx.db;
    // Rows queued without a wake-up; then the queue's table is gone while the sender reads it.
    await db.transaction(async (tx) => sender.queuePdu(tx, [D], { type: 'm.test', n: 1 }));
    await db.execute('ALTER TABLE federation_outbound RENAME TO federation_outbound_away');
    const status = sender.destinationStatus(D);
    try {
      sender.wake(D);
      await eventually(
        async () => sender.destinationStatus(D).failures === status.failures + 1,
        'the failed read to count as a failure',
      );
      expect(sender.destinationStatus(D).backingOff).toBe(true);
    } finally {
      await db.execute('ALTER TABLE federation_outbound_away RENAME TO federation_outbound');
    }

    // The DELETE after a 200 fails (the table disappears while the destination answers): the
    // rows stay and go again, with the same transaction ID, when the destination contacts us.
    const before = received.length;
    answer = async () => {
      await db.execute('ALTER TABLE federation_outbound RENAME TO federation_outbound_away');
      return { status: 200, body: '{}' };
    };
    try {
      sender.contacted(D);
      await eventually(
        async () => sender.destinationStatus(D).failures === status.failures + 2,
        'the failed delete to count as a failure',
      );
    } finally {
      answer = async () => ({ status: 200, body: '{}' });
      await db.execute('ALTER TABLE federation_outbound_away RENAME TO federation_outbound');
    }
    expect(await sender.pending(D)).toBe(1);
    sender.contacted(D);
    await drained();
    expect(received.length).toBe(before + 2);
    expect(received[before + 1]).toBe(received[before]);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  it('drops a transaction the destination refuses for good, and keeps what may succeed later', async () => {
    const refusals: Answer[] = [
      { status: 400, body: '{"errcode":"M_BAD_JSON","error":"no"}' },
      { status: 403, body: '{"errcode":"M_FORBIDDEN","error":"no"}' },
      { status: 413, body: '{"errcode":"M_TOO_LARGE","error":"no"}' },
    ];
    for (const refusal of refusals) {
      answer = async () => refusal;
      const attempts = sender.destinationStatus(D).attempts;
      await sender.queueEdu([D], EDU);
      await drained();
      // One attempt, no retry, no backoff: the destination is up, it just won't take that one.
      expect(sender.destinationStatus(D)).toEqual({
        attempts: attempts + 1,
        failures: 0,
        backingOff: false,
      });
    }

    for (const transient of [
      { status: 404, body: '<html>not found</html>' },
      { status: 403, body: '<html>Access denied (maintenance)</html>' },
      { status: 400, body: '{"error":"no errcode"}' },
      { status: 429, body: '{"errcode":"M_LIMIT_EXCEEDED","error":"slow down"}' },
      { status: 502, body: 'bad gateway' },
    ]) {
      answer = async () => transient;
      const failures = sender.destinationStatus(D).failures;
      await sender.queueEdu([D], EDU);
      // Backing off after the first of them: the next attempt comes when D contacts us.
      if (sender.destinationStatus(D).backingOff) sender.contacted(D);
      await eventually(
        async () => sender.destinationStatus(D).failures === failures + 1,
        `the ${transient.status} to count as a failure`,
      );
      expect(sender.destinationStatus(D).backingOff).toBe(true);
      expect(await sender.pending(D)).toBeGreaterThan(0);
    }
    answer = async () => ({ status: 200, body: '{}' });
    sender.contacted(D);
    await drained();
  });

  it('keeps a transaction answered by a proxy’s HTML 404 queued, and delivers it on a 200', async () => {
    answer = async () => ({ status: 404, body: '<html><body>404 Not Found</body></html>' });
    const attempts = sender.destinationStatus(D).attempts;
    await sender.queueEdu([D], EDU);
    await eventually(
      async () => sender.destinationStatus(D).backingOff,
      'the HTML 404 to count as a failure with backoff',
    );
    expect(sender.destinationStatus(D)).toMatchObject({ attempts: attempts + 1, failures: 1 });
    expect(await sender.pending(D)).toBe(1);
    const refused = received.at(-1);
    answer = async () => ({ status: 200, body: '{}' });
    sender.contacted(D);
    await drained();
    // The same transaction, retried.
    expect(received.at(-1)).toBe(refused);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  /**
   * Waits until the sender has nothing left for `d.test` or is backing off: what it does next
   * needs a timer or `contacted`.
   */
  async function settled(): Promise<void> {
    await eventually(
      async () => sender.destinationStatus(D).backingOff || (await sender.pending(D)) === 0,
      'the sender to empty the queue for d.test or back off',
    );
  }

  /** Queues `pdus` and `edus` for `d.test` in one commit: they can all go in one transaction. */
  async function queueTogether(
    pdus: ReadonlyArray<Record<string, unknown>>,
    edus: ReadonlyArray<{ edu_type: string; content: unknown }>,
  ): Promise<void> {
    await a.services.ctx.db.transaction(async (tx) => {
      for (const pdu of pdus) await sender.queuePdu(tx, [D], pdu);
      for (const edu of edus) await sender.queueEduInTransaction(tx, [D], edu);
    });
  }

  it('on a Matrix 403 for its PDU drops it and the typing EDU, and sends the to-device and device-list EDUs next, alone', async () => {
    // d.test refuses any transaction with a PDU or a typing EDU in it.
    answer = async (_, txn) =>
      txn.pdus.length > 0 || txn.edus.some((edu) => edu.edu_type === 'm.typing') ? FORBIDDEN : OK;
    const deviceList = {
      edu_type: 'm.device_list_update',
      content: { user_id: '@u:a.test', device_id: 'D', stream_id: 1, prev_id: [], deleted: false },
    };
    const from = log.length;
    await queueTogether([{ type: 'm.test', n: 1 }], [EDU, toDevice('kept'), deviceList]);
    await settled();
    expect(log.slice(from).map(({ txn, status }) => [carried(txn), status])).toEqual([
      [[1, 'm.typing', 'kept', 'm.device_list_update'], 403],
      [['kept', 'm.device_list_update'], 200],
    ]);
    expect(await sender.pending(D)).toBe(0);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  it('drops a to-device EDU the destination refuses again alone, and delivers what is queued behind it', async () => {
    // d.test finds one to-device EDU malformed, and refuses any transaction that carries it.
    const poisoned = (txn: Txn) => txn.edus.some((edu) => edu.content['message_id'] === 'poison');
    answer = async (_, txn) =>
      poisoned(txn) ? { status: 400, body: '{"errcode":"M_BAD_JSON","error":"no"}' } : OK;
    const from = log.length;
    await sender.queueEdu([D], toDevice('poison'));
    await settled();
    // Queued behind it: a PDU, another to-device EDU, a typing EDU. If the sender backs off,
    // the retry its timer would make comes now.
    await queueTogether([{ type: 'm.test', n: 2 }], [toDevice('behind'), EDU]);
    if (sender.destinationStatus(D).backingOff) sender.contacted(D);
    await settled();

    const sent = log.slice(from);
    expect(sent.filter(({ txn }) => poisoned(txn))).toHaveLength(2);
    // The empty transaction that showed d.test takes others, then what was queued behind.
    expect(sent.filter(({ status }) => status === 200).map(({ txn }) => carried(txn))).toEqual([
      [],
      [2, 'behind', 'm.typing'],
    ]);
    expect(await sender.pending(D)).toBe(0);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  it('sends kept EDUs refused together one at a time, so only the one refused alone is dropped', async () => {
    // Too large together, or one of them malformed: d.test refuses any transaction with `poison`.
    answer = async (_, txn) =>
      txn.edus.some((edu) => edu.content['message_id'] === 'poison')
        ? { status: 413, body: '{"errcode":"M_TOO_LARGE","error":"no"}' }
        : OK;
    const from = log.length;
    await queueTogether(
      [{ type: 'm.test', n: 3 }],
      [toDevice('good1'), toDevice('poison'), toDevice('good2')],
    );
    await settled();
    expect(log.slice(from).map(({ txn, status }) => [carried(txn), status])).toEqual([
      [[3, 'good1', 'poison', 'good2'], 413],
      [['good1', 'poison', 'good2'], 413],
      [['good1'], 200],
      [['poison'], 413],
      [[], 200],
      [['good2'], 200],
    ]);
    expect(await sender.pending(D)).toBe(0);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  it('keeps every kept EDU, with backoff, while the destination refuses all transactions, and delivers them once it takes them', async () => {
    // d.test refuses everything: a Synapse whose federation_domain_whitelist lacks a.test, or a
    // passing fault on its side. Its refusal of a to-device EDU alone says nothing about that EDU.
    answer = async () => FORBIDDEN;
    const failures = sender.destinationStatus(D).failures;
    const from = log.length;
    await queueTogether([{ type: 'm.test', n: 4 }], [toDevice('key1'), toDevice('key2')]);
    await settled();
    expect(log.slice(from).map(({ txn, status }) => [carried(txn), status])).toEqual([
      [[4, 'key1', 'key2'], 403],
      [['key1', 'key2'], 403],
      [['key1'], 403],
      [[], 403],
    ]);
    expect(await sender.pending(D)).toBe(2);
    expect(sender.destinationStatus(D)).toMatchObject({
      failures: failures + 1,
      backingOff: true,
    });

    // The retry after the backoff (here: d.test contacts us) finds it refusing still.
    const retried = log.length;
    sender.contacted(D);
    await eventually(
      async () => sender.destinationStatus(D).failures === failures + 2,
      'the second refusal of everything to count as a failure',
    );
    expect(log.slice(retried).map(({ txn, status }) => [carried(txn), status])).toEqual([
      [['key1'], 403],
      [[], 403],
    ]);
    expect(await sender.pending(D)).toBe(2);
    expect(sender.destinationStatus(D).backingOff).toBe(true);

    answer = async () => OK;
    const resumed = log.length;
    sender.contacted(D);
    await settled();
    expect(log.slice(resumed).map(({ txn, status }) => [carried(txn), status])).toEqual([
      [['key1'], 200],
      [['key2'], 200],
    ]);
    expect(await sender.pending(D)).toBe(0);
    expect(sender.destinationStatus(D)).toMatchObject({ failures: 0, backingOff: false });
  });

  /**
   * Queues PDU `n` and the to-device EDUs `ids` for `d.test`, which refuses (400) any transaction
   * carrying PDU `n` or `poison` — but answers the first transaction of `keptAtRestart` EDUs
   * alone with a 502, so the sender backs off for an hour, and a restart (a new sender on the
   * same database, as the server builds at start) comes before the retry: the kept EDUs the
   * restarted sender finds are those `keptAtRestart`, and whatever was kept beside them. Returns
   * what `d.test` received before and after the restart; PDU `n + 1` is queued just after it.
   */
  async function refusedThenRestarted(n: number, ids: readonly string[], keptAtRestart: number) {
    const refused = (txn: Txn) =>
      txn.pdus.some((pdu) => pdu['n'] === n) ||
      txn.edus.some((edu) => edu.content['message_id'] === 'poison');
    let down = true;
    answer = async (_, txn) => {
      if (txn.pdus.length === 0 && txn.edus.length === keptAtRestart && down) {
        down = false;
        return { status: 502, body: 'bad gateway' };
      }
      return refused(txn) ? { status: 400, body: '{"errcode":"M_BAD_JSON","error":"no"}' } : OK;
    };
    const hour = { baseMs: 3_600_000, maxMs: 3_600_000 };
    const before = new FederationSender(a.services.ctx, a.services.federation.client, hour);
    const after = new FederationSender(a.services.ctx, a.services.federation.client, hour);
    const sent = (from: number) => log.slice(from).map(({ txn, status }) => [carried(txn), status]);
    try {
      const from = log.length;
      await a.services.ctx.db.transaction(async (tx) => {
        await before.queuePdu(tx, [D], { type: 'm.test', n });
        for (const id of ids) await before.queueEduInTransaction(tx, [D], toDevice(id));
      });
      await eventually(async () => before.destinationStatus(D).backingOff, 'the 502 to back off');
      before.stop();
      const restarted = log.length;
      await a.services.ctx.db.transaction((tx) =>
        after.queuePdu(tx, [D], { type: 'm.test', n: n + 1 }),
      );
      await after.resume();
      await eventually(
        async () => (await after.pending(D)) === 0,
        'the restarted sender to empty the queue for d.test',
      );
      return { before: sent(from).slice(0, restarted - from), after: sent(restarted) };
    } finally {
      before.stop();
      after.stop();
    }
  }

  it('after a restart, sends the EDU a refusal kept alone first, so a poison EDU costs no more PDUs', async () => {
    expect(await refusedThenRestarted(5, ['poison'], 1)).toEqual({
      before: [
        [[5, 'poison'], 400],
        [['poison'], 502],
      ],
      after: [
        [['poison'], 400],
        [[], 200],
        [[6], 200],
      ],
    });
  });

  it('after a restart, sends kept EDUs refused together one at a time still', async () => {
    expect(await refusedThenRestarted(7, ['good1', 'poison'], 1)).toEqual({
      before: [
        [[7, 'good1', 'poison'], 400],
        [['good1', 'poison'], 400],
        [['good1'], 502],
      ],
      after: [
        [['good1'], 200],
        [['poison'], 400],
        [[], 200],
        [[8], 200],
      ],
    });
  });

  it('after a restart, sends the EDUs a refusal kept together first, still together', async () => {
    // The PDU was the cause; the two to-device EDUs beside it are kept to go next, together
    // (`kept` = 1, not 2: one per transaction only once they are refused together).
    expect(await refusedThenRestarted(9, ['key1', 'key2'], 2)).toEqual({
      before: [
        [[9, 'key1', 'key2'], 400],
        [['key1', 'key2'], 502],
      ],
      after: [
        [['key1', 'key2'], 200],
        [[10], 200],
      ],
    });
  });

  it('supersedes the pending rows keyed with the EDU type, whatever their JSON’s spelling', async () => {
    const db = a.services.ctx.db;
    // Destinations nothing is sent to: this sender is stopped, so queueing wakes none.
    const quiet = new FederationSender(a.services.ctx, a.services.federation.client);
    quiet.stop();
    const [E, F] = ['e.test', 'f.test'];
    const update = (status_msg: string) => ({
      user_id: '@u:a.test',
      presence: 'online',
      status_msg,
    });
    const insert = (destination: string, payload: string, key: string | null) =>
      db.execute(
        `INSERT INTO federation_outbound (destination, kind, payload, supersede_key)
         VALUES ($1, 'edu', $2, $3)`,
        [destination, payload, key],
      );
    try {
      // A presence row spelled otherwise (key order, spaces) than `JSON.stringify` spells it
      // now; a typing EDU; another destination's presence.
      await insert(
        E,
        `{"content": {"push": [${JSON.stringify(update('old'))}]}, "edu_type": "m.presence"}`,
        'm.presence',
      );
      await insert(E, JSON.stringify(EDU), null);
      await insert(
        F,
        JSON.stringify({ edu_type: 'm.presence', content: { push: [update('f')] } }),
        'm.presence',
      );

      const seen: unknown[][] = [];
      const supersede = (status: string) =>
        quiet.queueSupersedingEdus(
          'm.presence',
          new Map([
            [
              E,
              (pending: unknown[]) => {
                seen.push(pending);
                return [{ push: [update(status)] }];
              },
            ],
          ]),
        );
      await supersede('new');
      await supersede('newer');
      expect(seen).toEqual([[{ push: [update('old')] }], [{ push: [update('new')] }]]);

      const rows = await db.query<{
        destination: string;
        payload: string;
        supersede_key: string | null;
      }>(
        `SELECT destination, payload, supersede_key FROM federation_outbound
          WHERE destination IN ($1, $2) ORDER BY id`,
        [E, F],
      );
      expect(
        rows.map((row) => [row.destination, JSON.parse(row.payload), row.supersede_key]),
      ).toEqual([
        [E, EDU, null],
        [F, { edu_type: 'm.presence', content: { push: [update('f')] } }, 'm.presence'],
        [E, { edu_type: 'm.presence', content: { push: [update('newer')] } }, 'm.presence'],
      ]);
    } finally {
      await db.execute('DELETE FROM federation_outbound WHERE destination IN ($1, $2)', [E, F]);
    }
  });

  it('backs off an unreachable destination for hours, not a minute', () => {
    expect(backoffDelay(DEFAULT_BACKOFF, 1)).toBe(DEFAULT_BACKOFF.baseMs);
    expect(backoffDelay(DEFAULT_BACKOFF, 20)).toBeGreaterThanOrEqual(3 * 3_600_000);
    expect(backoffDelay(DEFAULT_BACKOFF, 1_000)).toBe(DEFAULT_BACKOFF.maxMs);
    expect(DEFAULT_BACKOFF.maxMs).toBeLessThan(2 ** 31);
  });
}
