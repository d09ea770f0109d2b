/**
 * The outbound queue's backoff (services/federation/sender/queue.ts): after a failed transaction,
 * rows queued for the same destination wait for the backoff's retry instead of each starting an
 * attempt of its own (a server that is down would cost the sender a signed request and a TLS
 * connect per event); the destination contacting us (`contacted`, called by the /send handler)
 * skips the wait. A real server on loopback, and a destination whose port refuses connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FederationSender } from '../src/services/federation/sender/queue.ts';
import { eventually, startFederation, type TestFederation } from './federation-harness.ts';
import { freePort } from './spawn.ts';

const DOWN = 'down.test';
const EDU = { edu_type: 'm.typing', content: { room_id: '!r:a.test', typing: false } };

let federation: TestFederation;
let sender: FederationSender;

beforeAll(async () => {
  // Nothing listens on that port: every transaction to `down.test` fails at connect.
  federation = await startFederation(['a.test'], {
    extraHosts: { [DOWN]: `127.0.0.1:${await freePort()}` },
  });
  const { services } = federation.server('a.test');
  // A second sender on A's database and federation client, with an hour-long backoff: no
  // retry comes from its timer while the test runs.
  sender = new FederationSender(services.ctx, services.federation.client, {
    baseMs: 3_600_000,
    maxMs: 3_600_000,
  });
}, 60_000);

afterAll(async () => {
  sender?.stop();
  await federation?.close();
});

describe('outbound backoff (sender/queue.ts)', () => {
  it('holds new rows for a destination in backoff until its retry or until it contacts us', async () => {
    await sender.queueEdu([DOWN], EDU);
    await eventually(
      async () => sender.destinationStatus(DOWN).failures === 1,
      'the first attempt to fail',
    );
    expect(sender.destinationStatus(DOWN)).toEqual({
      attempts: 1,
      failures: 1,
      backingOff: true,
    });

    // Queued while backing off: they wait (wake() decides synchronously, no attempt starts).
    await sender.queueEdu([DOWN], EDU);
    await sender.queueEdu([DOWN], EDU);
    expect(sender.destinationStatus(DOWN)).toEqual({
      attempts: 1,
      failures: 1,
      backingOff: true,
    });
    expect(await sender.pending(DOWN)).toBe(3);
    expect(sender.destinationStatus(DOWN).attempts).toBe(1);

    // The destination contacted us: one attempt at once, carrying all three rows (it fails
    // again here, as the port is still closed, and the rows stay queued).
    sender.contacted(DOWN);
    await eventually(
      async () => sender.destinationStatus(DOWN).failures === 2,
      'the attempt after contact to fail',
    );
    expect(sender.destinationStatus(DOWN)).toEqual({
      attempts: 2,
      failures: 2,
      backingOff: true,
    });
    expect(await sender.pending(DOWN)).toBe(3);
  });
});
