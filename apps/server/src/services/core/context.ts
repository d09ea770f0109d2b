/**
 * What every service is built from: configuration, the database, the log, the server's signing
 * key, the clock, and the notifier that wakes `/sync`.
 */
import type { SigningKey } from '@weft/signing';

import type { ServerConfig } from '../../config.ts';
import type { Log } from '../../log.ts';
import type { Database } from '../../storage/index.ts';
import type { Notifier } from './notifier.ts';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly db: Database;
  readonly log: Log;
  readonly signingKey: SigningKey;
  readonly notifier: Notifier;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now: () => number;
}

/** The authenticated caller of a client-server endpoint. */
export interface AuthenticatedUser {
  readonly userId: string;
  readonly deviceId: string;
}
