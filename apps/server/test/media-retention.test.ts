/**
 * The expiry of cached remote media (`media.remote_media_lifetime`, migration 0115's
 * `last_access_ts`) on both backends: the config's durations, the coarse access writes (at most
 * one per file per hour), and the sweep deleting rows and files not served for the lifetime. A
 * test clock drives it; no federation is needed (the rows are what a fetch would have written).
 * The fetch again after expiry, over real federation, is in federation-media.test.ts.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  buildConfig,
  ConfigError,
  DEFAULT_REMOTE_MEDIA_LIFETIME_MS,
  parseDuration,
} from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import type { ServerContext } from '../src/services/core/context.ts';
import { Notifier } from '../src/services/core/notifier.ts';
import { MediaService } from '../src/services/media/service.ts';
import { insertRemoteMedia, mediaPath, writeMediaFile } from '../src/services/media/store.ts';
import { loadOrCreateSigningKey } from '../src/signing-key.ts';
import { type Database, type DatabaseConfig, openDatabase } from '../src/storage/index.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('media.remote_media_lifetime', () => {
  const lifetime = (value: unknown) =>
    buildConfig({ media: { remote_media_lifetime: value } }, { dataDir: '/tmp/x' }).media
      .remoteMediaLifetimeMs;

  it('defaults to 90 days (Synapse keeps remote media unless told otherwise)', () => {
    expect(DEFAULT_REMOTE_MEDIA_LIFETIME_MS).toBe(90 * DAY);
    expect(buildConfig({}, { dataDir: '/tmp/x' }).media.remoteMediaLifetimeMs).toBe(90 * DAY);
    expect(lifetime(null)).toBe(90 * DAY);
  });

  it("takes Synapse's durations (ms, or a number with s/m/h/d/w/y) and never", () => {
    expect(lifetime('14d')).toBe(14 * DAY);
    expect(lifetime('12h')).toBe(12 * HOUR);
    expect(lifetime('2w')).toBe(14 * DAY);
    expect(lifetime('1y')).toBe(365 * DAY);
    expect(lifetime('90m')).toBe(90 * 60_000);
    expect(lifetime(' 120s ')).toBe(120_000);
    expect(lifetime(600_000)).toBe(600_000);
    expect(lifetime('600000')).toBe(600_000);
    expect(lifetime('never')).toBeUndefined();
    expect(parseDuration('1.5d')).toBeUndefined();
    expect(parseDuration(-5)).toBeUndefined();
  });

  it('refuses malformed values and lifetimes under a minute', () => {
    for (const value of ['soon', '1x', '-1d', '', 1.5, true, [], {}, '30s', 59_999, 0]) {
      expect(() => lifetime(value), JSON.stringify(value)).toThrow(ConfigError);
    }
  });
});

let postgres: TestPostgres | undefined;
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

type Backend = 'sqlite' | 'postgres';

describe.each<Backend>(['sqlite', 'postgres'])('the remote media sweep on %s', (backend) => {
  let db: Database;
  let dir: string;
  let clock = 1_700_000_000_000;
  const T0 = clock;

  function contextFor(file: Record<string, unknown>): ServerContext {
    return {
      config: buildConfig(file, { dataDir: dir, serverName: 'local.test' }),
      db,
      log: silentLog,
      signingKey: loadOrCreateSigningKey(dir),
      notifier: new Notifier(),
      now: () => clock,
    };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-media-retention-'));
    let config: DatabaseConfig = { backend: 'sqlite' };
    if (backend === 'postgres') {
      if (postgres === undefined) throw new Error('PostgreSQL did not start');
      databases += 1;
      config = {
        backend: 'postgres',
        connectionString: await postgres.createDatabase(`retention_${process.pid}_${databases}`),
      };
    }
    db = await openDatabase(config, dir);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A cached file of remote.test, as a fetch at `clock` writes it. */
  async function cache(mediaId: string): Promise<string> {
    const fileId = `file_${mediaId}`;
    await writeMediaFile(join(dir, 'media'), fileId, Buffer.from(mediaId));
    await insertRemoteMedia(db, {
      server_name: 'remote.test',
      media_id: mediaId,
      file_id: fileId,
      content_type: 'text/plain',
      filename: null,
      size: mediaId.length,
      sha256: '-',
      created_ts: clock,
    });
    return fileId;
  }

  const lastAccess = async (mediaId: string) =>
    Number(
      (
        await db.queryOne<{ t: number | string }>(
          'SELECT last_access_ts AS t FROM remote_media WHERE media_id = $1',
          [mediaId],
        )
      )?.t,
    );
  const exists = (fileId: string) => existsSync(mediaPath(join(dir, 'media'), fileId));

  it('records accesses at most hourly and deletes the rows and files idle for the lifetime', async () => {
    const media = new MediaService(contextFor({ media: { remote_media_lifetime: '1d' } }));
    clock = T0;
    const idle = await cache('idle');
    const used = await cache('used');
    const fresh = await cache('fresh');
    expect(await lastAccess('used')).toBe(T0);

    // 23 hours on, `used` is served: its access is written; half an hour later, not again.
    clock = T0 + 23 * HOUR;
    expect(Buffer.from((await media.get('remote.test', 'used')).bytes).toString()).toBe('used');
    expect(await lastAccess('used')).toBe(T0 + 23 * HOUR);
    clock = T0 + 23 * HOUR + 30 * 60_000;
    await media.get('remote.test', 'used');
    expect(await lastAccess('used')).toBe(T0 + 23 * HOUR);
    // `fresh` is served within the hour of its fetch: nothing written.
    clock = T0 + 10 * 60_000;
    await media.get('remote.test', 'fresh');
    expect(await lastAccess('fresh')).toBe(T0);

    // Nothing is a day idle yet.
    expect(await media.expireRemoteMedia(T0 + DAY - 1)).toBe(0);
    // A day and an hour after the fetch: `idle` and `fresh` go, `used` stays.
    clock = T0 + DAY + HOUR;
    expect(await media.expireRemoteMedia()).toBe(2);
    expect(exists(idle)).toBe(false);
    expect(exists(fresh)).toBe(false);
    expect(exists(used)).toBe(true);
    const rows = await db.query<{ media_id: string }>('SELECT media_id FROM remote_media');
    expect(rows).toEqual([{ media_id: 'used' }]);
    // Gone from the cache: without federation, unknown.
    await expect(media.get('remote.test', 'idle')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
    expect(Buffer.from((await media.get('remote.test', 'used')).bytes).toString()).toBe('used');
    await media.stop();
  });

  it('deletes in batches, and deletes nothing with never', async () => {
    clock = T0;
    await db.execute('DELETE FROM remote_media');
    for (let i = 0; i < 520; i += 1) await cache(`many${i}`);
    const keeper = new MediaService(contextFor({ media: { remote_media_lifetime: 'never' } }));
    expect(await keeper.expireRemoteMedia(T0 + 1000 * DAY)).toBe(0);
    const media = new MediaService(contextFor({ media: { remote_media_lifetime: '1h' } }));
    expect(await media.expireRemoteMedia(T0 + 2 * HOUR)).toBe(520);
    expect(await db.query('SELECT media_id FROM remote_media')).toEqual([]);
    expect(exists('file_many0')).toBe(false);
    expect(exists('file_many519')).toBe(false);
  });
});
