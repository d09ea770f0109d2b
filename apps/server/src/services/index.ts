/**
 * The server's services, built once at start from the shared context. Layers point down:
 * api → services → storage; a service never imports an api module.
 */
import { AccountService } from './accounts/service.ts';
import type { ServerContext } from './core/context.ts';
import { RoomService } from './rooms/service.ts';

export interface Services {
  readonly ctx: ServerContext;
  readonly accounts: AccountService;
  readonly rooms: RoomService;
}

export function createServices(ctx: ServerContext): Services {
  const accounts = new AccountService(ctx);
  const rooms = new RoomService(ctx);
  return { ctx, accounts, rooms };
}
