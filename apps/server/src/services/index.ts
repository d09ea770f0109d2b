/**
 * The server's services, built once at start from the shared context. Layers point down:
 * api → services → storage; a service never imports an api module.
 */
import { AccountService } from './accounts/service.ts';
import type { ServerContext } from './core/context.ts';
import { DeviceListService } from './device-lists/service.ts';
import { E2eKeyService } from './e2e-keys/service.ts';
import { ReceiptService } from './receipts/service.ts';
import { RoomService } from './rooms/service.ts';
import { SyncService } from './sync/service.ts';
import { ToDeviceService } from './to-device/service.ts';
import { TypingService } from './typing/service.ts';

export interface Services {
  readonly ctx: ServerContext;
  readonly accounts: AccountService;
  readonly rooms: RoomService;
  readonly typing: TypingService;
  readonly receipts: ReceiptService;
  readonly toDevice: ToDeviceService;
  readonly deviceLists: DeviceListService;
  readonly e2eKeys: E2eKeyService;
  readonly sync: SyncService;
}

export function createServices(ctx: ServerContext): Services {
  const accounts = new AccountService(ctx);
  const rooms = new RoomService(ctx);
  const typing = new TypingService(ctx);
  const receipts = new ReceiptService(ctx, rooms);
  const toDevice = new ToDeviceService(ctx, accounts);
  const deviceLists = new DeviceListService(ctx, rooms);
  const e2eKeys = new E2eKeyService(ctx, accounts, deviceLists);
  const sync = new SyncService(ctx, { rooms, typing, receipts, toDevice, e2eKeys, deviceLists });
  return { ctx, accounts, rooms, typing, receipts, toDevice, deviceLists, e2eKeys, sync };
}
