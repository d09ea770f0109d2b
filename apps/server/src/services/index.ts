/**
 * The server's services, built once at start from the shared context. Layers point down:
 * api → services → storage; a service never imports an api module.
 */
import type { ServerContext } from './core/context.ts';

export interface Services {
  readonly ctx: ServerContext;
}

export function createServices(ctx: ServerContext): Services {
  return { ctx };
}
