/**
 * The storage suite, run on both backends (`describe.each`): SQLite in a temporary file and a
 * real PostgreSQL cluster (test/postgres.ts). It proves what the services rely on — migrations,
 * transactions, unique violations, stream positions — and the round trips of the account, profile,
 * account-data, filter, push-rule, presence and media stores, through the same SQL on each.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { AccountDataService } from '../src/services/account-data/service.ts';
import { AccountService } from '../src/services/accounts/service.ts';
import { LAST_SEEN_INTERVAL_MS } from '../src/services/accounts/tokens.ts';
import type { ServerContext } from '../src/services/core/context.ts';
import { Notifier } from '../src/services/core/notifier.ts';
import { currentStreamPosition, nextStreamPosition } from '../src/services/core/stream.ts';
import { FilterService } from '../src/services/filters/service.ts';
import { MediaService } from '../src/services/media/service.ts';
import { insertMedia, selectMedia } from '../src/services/media/store.ts';
import { PresenceService } from '../src/services/presence/service.ts';
import { ProfileService } from '../src/services/profile/service.ts';
import { PushRuleService } from '../src/services/push-rules/service.ts';
import { joinedServers } from '../src/services/rooms/room-store.ts';
import { loadOrCreateSigningKey } from '../src/signing-key.ts';
import {
  type Database,
  type DatabaseConfig,
  openDatabase,
  StorageError,
} from '../src/storage/index.ts';
import { migrate, migrationNames } from '../src/storage/migrate.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

let postgres: TestPostgres | undefined;
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

type Backend = 'sqlite' | 'postgres';

/** A fresh, empty database of `backend` and its config (to reopen it). */
async function freshDatabase(backend: Backend): Promise<{ config: DatabaseConfig; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-storage-'));
  if (backend === 'sqlite') return { config: { backend: 'sqlite' }, dir };
  if (postgres === undefined) throw new Error('PostgreSQL did not start');
  databases += 1;
  const url = await postgres.createDatabase(`storage_${process.pid}_${databases}`);
  return { config: { backend: 'postgres', connectionString: url }, dir };
}

function contextFor(db: Database, dir: string): ServerContext {
  return {
    config: buildConfig({}, { dataDir: dir, serverName: 'storage.test' }),
    db,
    log: silentLog,
    signingKey: loadOrCreateSigningKey(dir),
    notifier: new Notifier(),
    now: () => 1_700_000_000_000,
  };
}

describe.each<Backend>(['sqlite', 'postgres'])('storage on %s', (backend) => {
  let db: Database;
  let ctx: ServerContext;
  let config: DatabaseConfig;
  let dir: string;

  beforeAll(async () => {
    ({ config, dir } = await freshDatabase(backend));
    db = await openDatabase(config, dir);
    ctx = contextFor(db, dir);
  });
  afterAll(async () => {
    await db.close();
  });

  it('applies every migration from empty, and none again on restart (idempotent)', async () => {
    const applied = await db.query<{ name: string }>(
      'SELECT name FROM schema_migrations ORDER BY name',
    );
    expect(applied.map((row) => row.name)).toEqual(migrationNames());
    expect(await migrate(db)).toEqual([]);
    await db.execute('INSERT INTO users (user_id, password_hash, created_ts) VALUES ($1, $2, $3)', [
      '@restart:storage.test',
      null,
      1,
    ]);
    await db.close();
    db = await openDatabase(config, dir);
    ctx = contextFor(db, dir);
    expect(await migrate(db)).toEqual([]);
    const kept = await db.queryOne('SELECT user_id FROM users WHERE user_id = $1', [
      '@restart:storage.test',
    ]);
    expect(kept).toEqual({ user_id: '@restart:storage.test' });
  });

  it('rolls a transaction back when its work throws', async () => {
    const failure = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
          '@rollback:storage.test',
          'gone',
        ]);
        await nextStreamPosition(tx);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(
      await db.queryOne('SELECT 1 AS one FROM profiles WHERE user_id = $1', [
        '@rollback:storage.test',
      ]),
    ).toBeUndefined();
    // The position taken inside the failed transaction was rolled back too.
    const before = await currentStreamPosition(db);
    const next = await db.transaction((tx) => nextStreamPosition(tx));
    expect(next).toBe(before + 1);
  });

  it('runs after-commit callbacks once the commit is visible, in order, and never twice', async () => {
    const seen: (string | undefined)[] = [];
    const userId = '@after-commit:storage.test';
    let read: Promise<unknown> | undefined;
    const result = await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
        userId,
        'first',
      ]);
      tx.afterCommit(() => seen.push('one'));
      tx.afterCommit(() => {
        // A reader started from the callback sees the committed row (not a half transaction).
        read = db
          .queryOne<{ displayname: string }>(
            'SELECT displayname FROM profiles WHERE user_id = $1',
            [userId],
          )
          .then((row) => seen.push(row?.displayname));
      });
      await tx.execute('UPDATE profiles SET displayname = $1 WHERE user_id = $2', [
        'committed',
        userId,
      ]);
      expect(seen).toEqual([]);
      return 'done';
    });
    expect(result).toBe('done');
    await read;
    expect(seen).toEqual(['one', 'committed']);
    // The next transaction starts with no callbacks left over.
    await db.transaction(async (tx) => {
      tx.afterCommit(() => seen.push('two'));
    });
    expect(seen).toEqual(['one', 'committed', 'two']);
  });

  it('drops after-commit callbacks of a transaction that rolls back', async () => {
    const seen: string[] = [];
    const failure = new Error('rollback');
    await expect(
      db.transaction(async (tx) => {
        tx.afterCommit(() => seen.push('rolled back'));
        await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
          '@dropped-hooks:storage.test',
          'gone',
        ]);
        throw failure;
      }),
    ).rejects.toBe(failure);
    await db.transaction(async (tx) => {
      tx.afterCommit(() => seen.push('committed'));
    });
    expect(seen).toEqual(['committed']);
    // Outside a transaction each statement commits by itself: the callback runs at once.
    db.afterCommit(() => seen.push('autocommit'));
    expect(seen).toEqual(['committed', 'autocommit']);
  });

  it('takes back a failed savepoint: its writes and its after-commit callbacks, not the rest', async () => {
    const seen: string[] = [];
    const failure = new Error('this part fails');
    const profile = (id: string) =>
      db.queryOne('SELECT displayname FROM profiles WHERE user_id = $1', [id]);
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
        '@before-savepoint:storage.test',
        'kept',
      ]);
      tx.afterCommit(() => seen.push('before'));
      await expect(
        tx.savepoint(async () => {
          await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
            '@in-savepoint:storage.test',
            'gone',
          ]);
          tx.afterCommit(() => seen.push('rolled back'));
          // A nested savepoint that succeeded goes with the one around it.
          await tx.savepoint(async () => {
            tx.afterCommit(() => seen.push('nested'));
          });
          throw failure;
        }),
      ).rejects.toBe(failure);
      const kept = await tx.savepoint(async () => {
        tx.afterCommit(() => seen.push('after'));
        await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
          '@after-savepoint:storage.test',
          'kept too',
        ]);
        return 'released';
      });
      expect(kept).toBe('released');
    });
    expect(seen).toEqual(['before', 'after']);
    expect(await profile('@before-savepoint:storage.test')).toEqual({ displayname: 'kept' });
    expect(await profile('@in-savepoint:storage.test')).toBeUndefined();
    expect(await profile('@after-savepoint:storage.test')).toEqual({ displayname: 'kept too' });
  });

  it('keeps a transaction committed when an after-commit callback throws', async () => {
    const userId = '@hook-throws:storage.test';
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args[1]);
    try {
      const result = await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
          userId,
          'kept',
        ]);
        tx.afterCommit(() => {
          throw new Error('listener bug');
        });
        return 'ok';
      });
      expect(result).toBe('ok');
    } finally {
      console.error = original;
    }
    expect(errors).toEqual([new Error('listener bug')]);
    expect(
      await db.queryOne('SELECT displayname FROM profiles WHERE user_id = $1', [userId]),
    ).toEqual({ displayname: 'kept' });
  });

  it('runs before-commit work at the end of the transaction, out of its savepoints, in order', async () => {
    const seen: string[] = [];
    const profile = (id: string) =>
      db.queryOne('SELECT displayname FROM profiles WHERE user_id = $1', [id]);
    await db.transaction(async (tx) => {
      await tx.savepoint(async () => {
        await tx.beforeCommit(async () => {
          seen.push('first');
          await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
            '@before-commit:storage.test',
            'written at the end',
          ]);
          // Work registered by work still runs before the COMMIT.
          await tx.beforeCommit(async () => {
            seen.push('registered late');
          });
        });
        await tx.beforeCommit(async () => {
          // Runs after the first, in the same transaction: it sees that row.
          const row = await tx.queryOne('SELECT displayname FROM profiles WHERE user_id = $1', [
            '@before-commit:storage.test',
          ]);
          seen.push(`second saw ${String(row?.['displayname'])}`);
        });
      });
      await expect(
        tx.savepoint(async () => {
          await tx.beforeCommit(async () => {
            seen.push('of a rolled-back savepoint');
          });
          throw new Error('this part fails');
        }),
      ).rejects.toThrow('this part fails');
      tx.afterCommit(() => seen.push('after commit'));
      // Registered, not run: the transaction's own work comes first.
      expect(seen).toEqual([]);
      await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
        '@before-commit-main:storage.test',
        'main work',
      ]);
    });
    expect(seen).toEqual([
      'first',
      'second saw written at the end',
      'registered late',
      'after commit',
    ]);
    expect(await profile('@before-commit:storage.test')).toEqual({
      displayname: 'written at the end',
    });
    // Outside a transaction each statement commits by itself: the work runs at once.
    await db.beforeCommit(async () => {
      seen.push('autocommit');
    });
    expect(seen.at(-1)).toBe('autocommit');
  });

  it('rolls the whole transaction back when before-commit work throws', async () => {
    const seen: string[] = [];
    const failure = new Error('index write failed');
    await expect(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)', [
          '@before-commit-fails:storage.test',
          'gone',
        ]);
        await tx.beforeCommit(async () => {
          throw failure;
        });
        tx.afterCommit(() => seen.push('never'));
      }),
    ).rejects.toBe(failure);
    expect(
      await db.queryOne('SELECT 1 AS one FROM profiles WHERE user_id = $1', [
        '@before-commit-fails:storage.test',
      ]),
    ).toBeUndefined();
    // Nothing is left over for the next transaction.
    await db.transaction(async (tx) => {
      tx.afterCommit(() => seen.push('next'));
    });
    expect(seen).toEqual(['next']);
  });

  it('maps unique violations to StorageError("unique-violation")', async () => {
    const insert = () =>
      db.execute('INSERT INTO filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)', [
        '@unique:storage.test',
        '0',
        '{}',
      ]);
    await insert();
    const error = await insert().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as StorageError).code).toBe('unique-violation');
    // Inside a transaction too, and the transaction then rolls back.
    const inTx = await db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO profiles (user_id) VALUES ($1)', ['@in-tx:storage.test']);
        await tx.execute(
          'INSERT INTO filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)',
          ['@unique:storage.test', '0', '{}'],
        );
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(StorageError.isInstance(inTx) && inTx.code).toBe('unique-violation');
    expect(
      await db.queryOne('SELECT 1 AS one FROM profiles WHERE user_id = $1', [
        '@in-tx:storage.test',
      ]),
    ).toBeUndefined();
  });

  it("lists a room's joined servers once each, by the part after the user ID's first colon", async () => {
    const members: [string, string][] = [
      ['@a:one.test', 'join'],
      ['@b:one.test', 'join'],
      // The server part may hold a port (and so a colon of its own).
      ['@c:two.test:8448', 'join'],
      ['@d:three.test', 'leave'],
      ['@e:four.test', 'invite'],
    ];
    for (const [userId, membership] of members) {
      await db.execute(
        `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position)
          VALUES ($1, $2, $3, $4, 1)`,
        ['!servers:storage.test', userId, membership, `$${userId}`],
      );
    }
    const servers = await joinedServers(db, db.dialect, '!servers:storage.test');
    expect(servers.sort()).toEqual(['one.test', 'two.test:8448']);
    expect(await joinedServers(db, db.dialect, '!empty:storage.test')).toEqual([]);
  });

  it('hands out strictly increasing stream positions under concurrent transactions', async () => {
    const start = await currentStreamPosition(db);
    const committed: number[] = [];
    const positions = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.transaction(async (tx) => {
          const position = await nextStreamPosition(tx);
          // Yield inside the transaction so a broken lock would let others interleave.
          await new Promise((resolve) => setTimeout(resolve, i % 3));
          await tx.execute(
            'INSERT INTO account_data (user_id, room_id, type, content, stream_position) VALUES ($1, $2, $3, $4, $5)',
            ['@stream:storage.test', '', `t${i}`, '{}', position],
          );
          committed.push(position);
          return position;
        }),
      ),
    );
    expect(new Set(positions).size).toBe(40);
    expect([...positions].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => start + 1 + i),
    );
    // Commit order is position order: a reader at position N has seen everything below N.
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    expect(await currentStreamPosition(db)).toBe(start + 40);
  });

  it('round-trips accounts: users, devices, hashed tokens, device listeners', async () => {
    let clock = ctx.now();
    const accounts = new AccountService({ ...ctx, now: () => clock });
    const changes: string[] = [];
    accounts.onDeviceChange(async (_tx, change) => {
      changes.push(`${change.change}:${change.deviceId}`);
    });
    const created = await accounts.register({
      localpart: 'store',
      password: 'pw',
      deviceId: 'DEV1',
      deviceDisplayName: 'Phone',
    });
    expect(created.userId).toBe('@store:storage.test');
    const token = created.accessToken ?? '';
    expect(await accounts.authenticate(token)).toEqual({
      userId: '@store:storage.test',
      deviceId: 'DEV1',
    });
    // Only the hash is stored.
    const stored = await db.query<{ token_hash: string }>(
      'SELECT token_hash FROM access_tokens WHERE user_id = $1',
      ['@store:storage.test'],
    );
    expect(stored.map((row) => row.token_hash)).not.toContain(token);
    expect(await accounts.listDevices('@store:storage.test')).toEqual([
      { device_id: 'DEV1', display_name: 'Phone', last_seen_ts: 1_700_000_000_000 },
    ]);
    // A request refreshes last_seen_ts only once it is LAST_SEEN_INTERVAL_MS old (the token is
    // cached by now: the cached path keeps this rule too).
    clock = ctx.now() + LAST_SEEN_INTERVAL_MS - 1;
    await accounts.authenticate(token);
    expect((await accounts.getDevice('@store:storage.test', 'DEV1'))?.last_seen_ts).toBe(ctx.now());
    // The cache-only lookup (the /sync fast path's) answers a fresh cached token, never an
    // unknown one, and not one whose last_seen_ts is due: that refresh is the database's work.
    expect(accounts.cachedUser(token)).toEqual({ userId: '@store:storage.test', deviceId: 'DEV1' });
    expect(accounts.cachedUser(`${token}x`)).toBeUndefined();
    clock = ctx.now() + LAST_SEEN_INTERVAL_MS;
    expect(accounts.cachedUser(token)).toBeUndefined();
    await accounts.authenticate(token);
    expect(accounts.cachedUser(token)).toEqual({ userId: '@store:storage.test', deviceId: 'DEV1' });
    expect((await accounts.getDevice('@store:storage.test', 'DEV1'))?.last_seen_ts).toBe(
      ctx.now() + LAST_SEEN_INTERVAL_MS,
    );
    expect(await accounts.renameDevice('@store:storage.test', 'DEV1', 'Laptop')).toBe(true);
    expect((await accounts.getDevice('@store:storage.test', 'DEV1'))?.display_name).toBe('Laptop');
    await expect(
      accounts.register({ localpart: 'store', password: 'x', inhibitLogin: true }),
    ).rejects.toMatchObject({ errcode: 'M_USER_IN_USE' });
    await accounts.deleteDevices('@store:storage.test', ['DEV1']);
    expect(await accounts.authenticate(token)).toBeUndefined();
    expect(changes).toEqual(['added:DEV1', 'removed:DEV1']);
  });

  it('round-trips profiles, account data, filters, push rules, presence and media', async () => {
    const userId = '@rt:storage.test';
    await db.execute('INSERT INTO users (user_id, created_ts) VALUES ($1, $2)', [userId, 1]);

    const profile = new ProfileService(ctx, async (id) => id === userId);
    await profile.set(userId, 'displayname', 'Ünïcode ☃');
    await profile.set(userId, 'avatar_url', 'mxc://storage.test/abc');
    expect(await profile.get(userId)).toEqual({
      displayname: 'Ünïcode ☃',
      avatar_url: 'mxc://storage.test/abc',
    });
    await profile.set(userId, 'displayname', null);
    expect(await profile.get(userId)).toEqual({ avatar_url: 'mxc://storage.test/abc' });

    const accountData = new AccountDataService(ctx);
    const from = await currentStreamPosition(db);
    const first = await accountData.set(userId, undefined, 'm.direct', { '@a:b': ['!r:b'] });
    const second = await accountData.set(userId, '!room:storage.test', 'm.tag', { tags: {} });
    expect(second).toBeGreaterThan(first);
    expect(await accountData.get(userId, undefined, 'm.direct')).toEqual({ '@a:b': ['!r:b'] });
    expect(await accountData.get(userId, undefined, 'm.tag')).toBeUndefined();
    expect(await accountData.accountDataSince(userId, from, second)).toEqual([
      { roomId: undefined, type: 'm.direct', content: { '@a:b': ['!r:b'] }, streamPosition: first },
      {
        roomId: '!room:storage.test',
        type: 'm.tag',
        content: { tags: {} },
        streamPosition: second,
      },
    ]);
    expect(await accountData.accountDataSince(userId, first, second)).toHaveLength(1);

    const filters = new FilterService(ctx);
    const filterId = await filters.create(userId, { room: { timeline: { limit: 5 } } });
    expect(await filters.getFilter(userId, filterId)).toEqual({ room: { timeline: { limit: 5 } } });
    expect(await filters.create(userId, { room: { timeline: { limit: 5 } } })).toBe(filterId);
    expect(await filters.getFilter('@other:storage.test', filterId)).toBeUndefined();

    const pushRules = new PushRuleService(ctx, accountData);
    await pushRules.put(userId, 'room', '!room:storage.test', { actions: [] }, {});
    await pushRules.setEnabled(userId, 'override', '.m.rule.master', true);
    const ruleset = await pushRules.ruleset(userId);
    expect(ruleset.room).toEqual([
      { rule_id: '!room:storage.test', default: false, enabled: true, actions: [] },
    ]);
    expect(ruleset.override[0]).toMatchObject({ rule_id: '.m.rule.master', enabled: true });
    expect(await accountData.get(userId, undefined, 'm.push_rules')).toEqual({ global: ruleset });

    const presence = new PresenceService(ctx, async (id) => id === userId);
    const at = await presence.set(userId, 'unavailable', 'lunch');
    expect(await presence.get(userId)).toEqual({
      presence: 'unavailable',
      last_active_ago: 0,
      status_msg: 'lunch',
      currently_active: false,
    });
    expect((await presence.presenceSince(at - 1, at)).map((e) => e.sender)).toEqual([userId]);

    await db.transaction((tx) =>
      insertMedia(tx, {
        media_id: 'abcDEF_-1',
        user_id: userId,
        content_type: 'image/png',
        filename: 'ä.png',
        size: 3,
        sha256: '00',
        created_ts: 5,
      }),
    );
    expect(await selectMedia(db, 'abcDEF_-1')).toEqual({
      media_id: 'abcDEF_-1',
      user_id: userId,
      content_type: 'image/png',
      filename: 'ä.png',
      size: 3,
    });
  });
  it('keeps no media file when its row does not commit', async () => {
    const { config: otherConfig, dir: otherDir } = await freshDatabase(backend);
    const closed = await openDatabase(otherConfig, otherDir);
    await closed.close();
    const media = new MediaService(contextFor(closed, otherDir));
    const failure = await media
      .upload('@m:storage.test', new Uint8Array([1, 2, 3]), 'image/png', undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(failure).toBeDefined();
    const root = join(otherDir, 'media');
    const files = existsSync(root)
      ? readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) =>
          entry.isFile(),
        )
      : [];
    expect(files).toEqual([]);
  });
});
