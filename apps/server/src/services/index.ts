/**
 * The server's services, built once at start from the shared context. Layers point down:
 * api → services → storage; a service never imports an api module.
 */
import { AccountService } from './accounts/service.ts';
import type { ServerContext } from './core/context.ts';

export interface Services {
  readonly ctx: ServerContext;
  readonly accounts: AccountService;
}

export function createServices(ctx: ServerContext): Services {
  const accounts = new AccountService(ctx);
  return { ctx, accounts };
}
