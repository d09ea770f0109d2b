/**
 * Pushers (client-server-api "Push Notifications",
 * https://spec.matrix.org/v1.19/client-server-api/#push-notifications): where a user's
 * notifications go. A pusher is keyed by (`app_id`, `pushkey`) per user and belongs to the device
 * whose access token set it: it goes when that device is deleted or logs out ("pushers … are
 * deleted when the access token is"). Only `http` pushers are kept; delivery to their push
 * gateways is delivery.ts. The users with pushers are also held in memory, so the push
 * evaluation of an event asks a set, not the database, whether a recipient has any.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { AccountService } from '../accounts/service.ts';
import { AddressPolicy } from '../core/address-policy.ts';
import type { ServerContext } from '../core/context.ts';
import { currentStreamPosition } from '../core/stream.ts';
import type { PushDelivery, PushTarget } from '../push/service.ts';
import type { RoomService, StoredEvent } from '../rooms/index.ts';
import { GatewayDelivery, PUSH_GATEWAY } from './delivery.ts';
import {
  countPushers,
  deleteDevicePushers,
  deleteOtherUsersPushers,
  deletePusher,
  hasPushers,
  type PusherRow,
  selectPusherProgress,
  selectPushers,
  selectPusherUsers,
  upsertPusher,
} from './store.ts';

/** Pushers one user may have: `POST /pushers/set` refuses a new one beyond (400). */
export const MAX_PUSHERS_PER_USER = 100;

/** A pusher as `GET /pushers` lists it. */
export type Pusher = {
  readonly pushkey: string;
  readonly kind: string;
  readonly app_id: string;
  readonly app_display_name: string;
  readonly device_display_name: string;
  readonly profile_tag?: string;
  readonly lang: string;
  readonly data: Record<string, unknown>;
};

/** A pusher to create or replace (`POST /pushers/set` with a `kind`), already checked. */
export type PusherSettings = {
  readonly kind: 'http';
  readonly appId: string;
  readonly pushkey: string;
  readonly appDisplayName: string;
  readonly deviceDisplayName: string;
  readonly profileTag: string | undefined;
  readonly lang: string;
  /** `PusherData`, `url` included. */
  readonly data: Record<string, unknown>;
  /** `false`: the other users' pushers of the same (`app_id`, `pushkey`) go. */
  readonly append: boolean;
};

function pusherOf(row: PusherRow): Pusher {
  return {
    pushkey: row.pushkey,
    kind: row.kind,
    app_id: row.app_id,
    app_display_name: row.app_display_name,
    device_display_name: row.device_display_name,
    ...(row.profile_tag !== null ? { profile_tag: row.profile_tag } : {}),
    lang: row.lang,
    data: parseAnyJson(row.data) as Record<string, unknown>,
  };
}

export class PusherService implements PushDelivery {
  readonly #ctx: ServerContext;
  /** Users with at least one pusher, as committed (a superset while a change commits). */
  readonly #users = new Set<string>();
  #loaded = false;
  readonly #delivery: GatewayDelivery;
  readonly #policy: AddressPolicy;

  constructor(ctx: ServerContext, accounts: AccountService, rooms: RoomService) {
    this.#ctx = ctx;
    this.#policy = new AddressPolicy(ctx.config.push, PUSH_GATEWAY);
    this.#delivery = new GatewayDelivery(ctx, rooms, {
      pushers: (userId) => selectPushers(ctx.db, userId),
      rejected: (userId, appId, pushkey) => this.#removeRejected(userId, appId, pushkey),
    });
    accounts.onDeviceChange(async (tx, change) => {
      if (change.change !== 'removed' || !this.mayPush(change.userId)) return;
      const gone = await deleteDevicePushers(tx, change.userId, change.deviceId);
      if (gone.length > 0) {
        await this.#afterRemoval(
          tx,
          gone.map((row) => ({ userId: change.userId, appId: row.app_id, pushkey: row.pushkey })),
        );
      }
    });
    this.ready = this.#load();
    // Awaited by the server's start (server.ts), which a failure fails; logged here as well.
    this.ready.catch((error: unknown) =>
      ctx.log.error('loading the users with pushers failed', { error }),
    );
  }

  /**
   * Settles once the users with pushers are in memory and the notifications not finished before
   * the last stop are queued again (delivery.ts `resume`, read in the background); rejects when
   * they could not be read (the server does not start: without the set every recipient would
   * cost a database lookup).
   */
  readonly ready: Promise<void>;

  async #load(): Promise<void> {
    // Before any event of this run can be delivered: what comes after is delivered as it commits.
    const upTo = await currentStreamPosition(this.#ctx.db);
    const progress = await selectPusherProgress(this.#ctx.db);
    for (const userId of await selectPusherUsers(this.#ctx.db)) this.#users.add(userId);
    this.#loaded = true;
    this.#delivery.resume(progress, upTo);
  }

  /** The user's pushers. */
  async list(userId: string): Promise<Pusher[]> {
    return (await selectPushers(this.#ctx.db, userId)).map(pusherOf);
  }

  /**
   * Creates or replaces the user's pusher of (`app_id`, `pushkey`), for `deviceId`. 400
   * `M_INVALID_PARAM` when `data.url`'s host is an address the `push:` policy denies, or when the
   * pusher would be one more than {@link MAX_PUSHERS_PER_USER}.
   */
  async set(userId: string, deviceId: string, settings: PusherSettings): Promise<void> {
    if (!(await this.#policy.allowsUrl(new URL(String(settings.data['url']))))) {
      throw MatrixError.invalidParam(
        'data.url: the push gateway is on a private, loopback or reserved address this server ' +
          'does not send to',
      );
    }
    const row: PusherRow = {
      user_id: userId,
      app_id: settings.appId,
      pushkey: settings.pushkey,
      device_id: deviceId,
      kind: settings.kind,
      app_display_name: settings.appDisplayName,
      device_display_name: settings.deviceDisplayName,
      profile_tag: settings.profileTag ?? null,
      lang: settings.lang,
      data: JSON.stringify(settings.data),
      pushkey_ts: this.#ctx.now(),
    };
    await this.#ctx.db.transaction(async (tx) => {
      const count = await countPushers(tx, userId, settings.appId, settings.pushkey);
      if (!count.exists && count.total >= MAX_PUSHERS_PER_USER) {
        throw MatrixError.invalidParam(
          `Too many pushers: a user may have at most ${MAX_PUSHERS_PER_USER}`,
        );
      }
      await upsertPusher(tx, row);
      // Before COMMIT: an event committed after this pusher finds its user in the set.
      this.#users.add(userId);
      if (!settings.append) {
        const others = await deleteOtherUsersPushers(tx, userId, settings.appId, settings.pushkey);
        await this.#afterRemoval(
          tx,
          others.map((other) => ({
            userId: other,
            appId: settings.appId,
            pushkey: settings.pushkey,
          })),
        );
      }
    });
    this.#delivery.pusherSet(userId, settings.appId, settings.pushkey);
  }

  /** Deletes the user's pusher of (`app_id`, `pushkey`), if any (`kind: null`). */
  async delete(userId: string, appId: string, pushkey: string): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      if ((await deletePusher(tx, userId, appId, pushkey)) > 0) {
        await this.#afterRemoval(tx, [{ userId, appId, pushkey }]);
      }
    });
  }

  /**
   * Stops delivering (the server stops): pending retries are dropped (sent again at the next
   * start); settles once the finished notifications' progress is written.
   */
  stop(): Promise<void> {
    return this.#delivery.stop();
  }

  /** {@link PushDelivery.active}: whether any user may have a pusher (all, until loaded). */
  get active(): boolean {
    return !this.#loaded || this.#users.size > 0;
  }

  /** {@link PushDelivery.mayPush}: a set lookup. */
  mayPush(userId: string): boolean {
    return !this.#loaded || this.#users.has(userId);
  }

  /** {@link PushDelivery.deliver}: sends to the gateways in the background. */
  deliver(event: StoredEvent, targets: readonly PushTarget[]): void {
    this.#delivery.deliver(event, targets);
  }

  /** {@link PushDelivery.badge}: a badge-only push to the gateways in the background. */
  badge(userId: string): void {
    this.#delivery.badge(userId);
  }

  /**
   * Once `tx` commits: the deleted pushers' waiting notifications are dropped (delivery.ts
   * `pushersRemoved`: none goes out with a deleted pushkey), and users left without pushers leave
   * the set.
   */
  async #afterRemoval(
    tx: SqlExecutor,
    removed: readonly { userId: string; appId: string; pushkey: string }[],
  ): Promise<void> {
    if (removed.length === 0) return;
    const gone: string[] = [];
    for (const userId of new Set(removed.map((pusher) => pusher.userId))) {
      if (!(await hasPushers(tx, userId))) gone.push(userId);
    }
    tx.afterCommit(() => {
      this.#delivery.pushersRemoved(removed);
      for (const userId of gone) this.#users.delete(userId);
    });
  }

  /** A gateway said the pushkey is not valid (spec: "remove the associated pushers"). */
  async #removeRejected(userId: string, appId: string, pushkey: string): Promise<void> {
    this.#ctx.log.info('a push gateway rejected a pushkey; its pusher is removed', {
      user_id: userId,
      app_id: appId,
    });
    await this.delete(userId, appId, pushkey);
  }
}
