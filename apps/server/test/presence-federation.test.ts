/**
 * Incoming `m.presence` EDUs (spec server-server-api "Presence") keep the remote user's
 * `last_active_ago` (stored as now − last_active_ago) and `currently_active`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { handleEdu } from '../src/services/federation/edus/inbound.ts';
import { startTestServer, type TestServer } from './harness.ts';

const DAY = 24 * 60 * 60_000;

describe('incoming m.presence', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('keeps last_active_ago and currently_active as the remote server reported them', async () => {
    await handleEdu(server.services, 'remote.example', {
      edu_type: 'm.presence',
      content: {
        push: [
          { user_id: '@old:remote.example', presence: 'offline', last_active_ago: 3 * DAY },
          {
            user_id: '@busy:remote.example',
            presence: 'online',
            last_active_ago: 5 * 60_000,
            currently_active: false,
          },
          {
            user_id: '@here:remote.example',
            presence: 'online',
            last_active_ago: 90_000,
            currently_active: true,
          },
        ],
      },
    });
    const old = await server.services.presence.get('@old:remote.example');
    expect(old).toMatchObject({ presence: 'offline', currently_active: false });
    expect(old.last_active_ago).toBeGreaterThanOrEqual(3 * DAY);
    expect(old.last_active_ago).toBeLessThan(3 * DAY + 60_000);

    const busy = await server.services.presence.get('@busy:remote.example');
    expect(busy).toMatchObject({ presence: 'online', currently_active: false });
    expect(busy.last_active_ago).toBeGreaterThanOrEqual(5 * 60_000);

    const here = await server.services.presence.get('@here:remote.example');
    expect(here).toMatchObject({ presence: 'online', currently_active: true });
    expect(here.last_active_ago).toBeGreaterThanOrEqual(90_000);
    expect(here.last_active_ago).toBeLessThan(150_000);
  });
});
