/**
 * Stored filters (client-server-api "Filtering",
 * https://spec.matrix.org/v1.19/client-server-api/#filtering): a client uploads a filter once and
 * passes its ID to `/sync`. Filters are validated with the same parser `/sync` applies, stored as
 * canonical JSON, and numbered per user (`0`, `1`, …; an identical filter gets its old ID back).
 * IDs never start with `{`, which is how `/sync` tells an ID from inline JSON.
 */
import { encodeCanonicalJson, parseAnyJson } from '@weft/canonical-json';

import type { ServerContext } from '../core/context.ts';
import { parseSyncFilter } from '../sync/filter.ts';
import { countFilters, insertFilter, selectFilter, selectFilterIdByJson } from './store.ts';

export class FilterService {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Validates and stores a filter; returns its ID. 400 `M_BAD_JSON` for a malformed filter. */
  async create(userId: string, filter: Record<string, unknown>): Promise<string> {
    parseSyncFilter(filter);
    const json = encodeCanonicalJson(filter);
    return this.#ctx.db.transaction(async (tx) => {
      const existing = await selectFilterIdByJson(tx, userId, json);
      if (existing !== undefined) return existing;
      const filterId = String(await countFilters(tx, userId));
      await insertFilter(tx, userId, filterId, json);
      return filterId;
    });
  }

  /** A stored filter's JSON, or `undefined` for an unknown ID (what `/sync`'s lookup needs). */
  async getFilter(userId: string, filterId: string): Promise<Record<string, unknown> | undefined> {
    const json = await selectFilter(this.#ctx.db, userId, filterId);
    return json === undefined ? undefined : (parseAnyJson(json) as Record<string, unknown>);
  }
}
