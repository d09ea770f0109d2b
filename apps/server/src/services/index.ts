/**
 * The server's services, built once at start from the shared context. Layers point down:
 * api → services → storage; a service never imports an api module.
 */
import { AccountDataService } from './account-data/service.ts';
import { AccountService } from './accounts/service.ts';
import type { ServerContext } from './core/context.ts';
import { DeviceListService } from './device-lists/service.ts';
import { E2eKeyService } from './e2e-keys/service.ts';
import { federationDepsOf } from './federation/membership/core-adapter.ts';
import { FederationMembershipService } from './federation/membership/service.ts';
import { FederationQueryService } from './federation/queries/service.ts';
import { FederationService } from './federation/service.ts';
import { FilterService } from './filters/service.ts';
import { KeyBackupService } from './key-backup/service.ts';
import { MediaService } from './media/service.ts';
import { OpenIdService } from './openid/service.ts';
import { PresenceService } from './presence/service.ts';
import { updateMemberEvents } from './profile/member-events.ts';
import { ProfileService } from './profile/service.ts';
import { PushService } from './push/service.ts';
import { PushRuleService } from './push-rules/service.ts';
import { PusherService } from './pushers/service.ts';
import { ReceiptService } from './receipts/service.ts';
import { RelationsService } from './relations/service.ts';
import { ReportService } from './reports/service.ts';
import { RoomService } from './rooms/service.ts';
import { SearchService } from './search/service.ts';
import { SyncService } from './sync/service.ts';
import { ToDeviceService } from './to-device/service.ts';
import { TypingService } from './typing/service.ts';
import { UserDirectoryService } from './user-directory/service.ts';

export interface Services {
  readonly ctx: ServerContext;
  readonly accounts: AccountService;
  readonly rooms: RoomService;
  readonly typing: TypingService;
  readonly receipts: ReceiptService;
  readonly toDevice: ToDeviceService;
  readonly deviceLists: DeviceListService;
  readonly e2eKeys: E2eKeyService;
  /** Server-side key backups (services/key-backup). */
  readonly keyBackup: KeyBackupService;
  /** Event relationships: threads, edits, references (services/relations). */
  readonly relations: RelationsService;
  /** User directory search (services/user-directory). */
  readonly userDirectory: UserDirectoryService;
  /** Content reports (services/reports). */
  readonly reports: ReportService;
  /** Server-side search of room events (services/search). */
  readonly search: SearchService;
  /** OpenID tokens for third parties (services/openid). */
  readonly openId: OpenIdService;
  readonly sync: SyncService;
  readonly profile: ProfileService;
  readonly accountData: AccountDataService;
  readonly filters: FilterService;
  readonly pushRules: PushRuleService;
  /** Push-rule evaluation and unread counts (services/push). */
  readonly push: PushService;
  /** Pushers and delivery to push gateways (services/pushers). */
  readonly pushers: PusherService;
  readonly presence: PresenceService;
  readonly media: MediaService;
  readonly federation: FederationService;
  /** Federation joins, leaves and invites (services/federation/membership). */
  readonly federationMembership: FederationMembershipService;
  /** Federation queries, served and fanned out (services/federation/queries). */
  readonly federationQueries: FederationQueryService;
}

/** What a timeline listener with nothing to wait for returns (no promise per event). */
const SETTLED: Promise<void> = Promise.resolve();

export function createServices(ctx: ServerContext): Services {
  const accounts = new AccountService(ctx);
  const rooms = new RoomService(ctx);
  const typing = new TypingService(ctx);
  // A member who leaves (or is kicked or banned) stops typing there.
  rooms.onTimelineEvent(typing.memberListener);
  const receipts = new ReceiptService(ctx, rooms);
  const toDevice = new ToDeviceService(ctx, accounts);
  const deviceLists = new DeviceListService(ctx, rooms);
  const e2eKeys = new E2eKeyService(ctx, accounts, deviceLists);
  const sync = new SyncService(ctx, { rooms, typing, receipts, toDevice, e2eKeys, deviceLists });
  const userData = createUserDataServices(ctx, accounts, rooms, receipts, sync);
  const pushers = new PusherService(ctx, accounts, rooms);
  userData.push.setPushDelivery(pushers);
  const federation = new FederationService(ctx, rooms);
  federation.connectEdus({
    typing,
    receipts,
    deviceLists,
    toDevice,
    crossSigning: e2eKeys.crossSigning,
    presence: userData.presence,
  });
  const federationMembership = new FederationMembershipService(rooms, accounts);
  const federationQueries = new FederationQueryService({
    rooms,
    accounts,
    profile: userData.profile,
    e2eKeys,
  });
  if (ctx.config.federation.enabled) {
    const deps = federationDepsOf(federation);
    federationMembership.setFederation(deps);
    federationQueries.setRequest(deps.request);
    userData.media.setFederation(federation.client);
  }
  const relations = new RelationsService(ctx, rooms);
  // /relations, /threads and bundled aggregations leave ignored users out (/search is handed
  // the lists itself, below).
  relations.setIgnoredUsers(userData.accountData.ignoredUsers);
  // A to-device message for a user who ignores its sender is dropped when sent.
  toDevice.setIgnoredUsers(userData.accountData.ignoredUsers);
  sync.setRelationBundles((roomId, userId, events, bound) =>
    relations.bundles(roomId, userId, events, bound),
  );
  return {
    ctx,
    federationMembership,
    federationQueries,
    accounts,
    rooms,
    typing,
    receipts,
    toDevice,
    deviceLists,
    e2eKeys,
    keyBackup: new KeyBackupService(ctx, accounts),
    relations,
    userDirectory: new UserDirectoryService(ctx, rooms),
    reports: new ReportService(ctx, rooms),
    search: new SearchService(ctx, rooms, relations, userData.accountData.ignoredUsers),
    openId: new OpenIdService(ctx),
    sync,
    ...userData,
    pushers,
    federation,
  };
}

/**
 * Profile, account data, filters, push rules, presence and media, and their seams into the
 * other services: member events take the profile (and are re-sent when it changes),
 * `m.fully_read` markers are room account data, and `/sync` reads account data (with the
 * `m.push_rules` ruleset in an initial sync even before the user changed a rule) and presence.
 */
function createUserDataServices(
  ctx: ServerContext,
  accounts: AccountService,
  rooms: RoomService,
  receipts: ReceiptService,
  sync: SyncService,
) {
  const userExists = (userId: string) => accounts.userExists(userId);
  const profile = new ProfileService(ctx, userExists);
  rooms.setProfileLookup((db, userId) => profile.lookup(db, userId));
  profile.onProfileChange((userId, changed) => updateMemberEvents(rooms, ctx.log, userId, changed));
  const accountData = new AccountDataService(ctx);
  // `/sync` leaves out what users they ignore sent (spec "Ignoring Users").
  sync.setIgnoredUsersSource(accountData.ignoredUsers);
  receipts.setFullyReadWriter(async (userId, roomId, eventId) => {
    await accountData.set(userId, roomId, 'm.fully_read', { event_id: eventId });
  });
  const pushRules = new PushRuleService(ctx, accountData);
  const push = new PushService(ctx, rooms, pushRules);
  push.setIgnoredUsers(accountData.ignoredUsers);
  receipts.setReadReceiptHandler((tx, userId, roomId, position) =>
    push.readReceiptMoved(tx, userId, roomId, position),
  );
  sync.setUnreadNotificationSource((userId, roomIds, to, threads) =>
    push.unreadNotificationsOfRooms(userId, roomIds, to, threads),
  );
  sync.setAccountDataSource({
    global: async (userId, from, to) => {
      const events = await accountData.globalSince(userId, from, to);
      if (from === 0 && !events.some((event) => event.type === 'm.push_rules')) {
        events.push({ type: 'm.push_rules', content: { global: await pushRules.ruleset(userId) } });
      }
      return events;
    },
    room: (userId, roomId, from, to) => accountData.roomSince(userId, roomId, from, to),
    roomsChanged: (userId, from, to) => accountData.roomsChanged(userId, from, to),
  });
  const presence = new PresenceService(ctx, userExists);
  // `/sync` serves presence and marks the syncing user as its `set_presence` says.
  sync.setPresenceSource({
    presenceSince: (from, to) => presence.presenceSince(from, to),
    current: async (userId) => (await presence.get(userId)).presence,
    set: (userId, state) => presence.syncSet(userId, state),
    syncStarted: (userId, state) => presence.syncStarted(userId, state),
  });
  // Sending an event is activity (spec "Idle timeout"): it may bring the sender back online.
  // Only a local sender's event is (federation's are not), and none once stopping: checked
  // before anything is allocated (this runs for every persisted event).
  rooms.onTimelineEvent((tx, event) => {
    if (event.streamPosition !== null && presence.recordsActivity(event.sender)) {
      tx.afterCommit(() => presence.noteActive(event.sender));
    }
    return SETTLED;
  });
  return {
    profile,
    accountData,
    filters: new FilterService(ctx),
    pushRules,
    push,
    presence,
    media: new MediaService(ctx),
  };
}
