/**
 * matrix-js-sdk, the client Element uses, as a test peer: a client for a registered user, started
 * and synced (`PREPARED`) against a test server, with the SDK's logging silenced.
 */
import { ClientEvent, createClient, type MatrixClient } from 'matrix-js-sdk';

import type { TestUser } from './sync-helpers.ts';

/** A logger that drops everything (the SDK logs every request at debug level). */
export const quietLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => quietLogger,
};

export interface SdkOptions {
  /** Start the SDK's Rust crypto (vodozemac) in memory first. */
  readonly crypto?: boolean;
  readonly initialSyncLimit?: number;
}

/** Starts an SDK client as `user` on `baseUrl` and resolves once its first sync is applied. */
export async function startSdkClient(
  baseUrl: string,
  user: TestUser,
  options: SdkOptions = {},
): Promise<MatrixClient> {
  const sdk = createClient({
    baseUrl,
    userId: user.userId,
    accessToken: user.accessToken,
    deviceId: user.deviceId,
    logger: quietLogger,
  });
  if (options.crypto === true) await sdk.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((resolve) => {
    sdk.on(ClientEvent.Sync, (state) => {
      if (state === 'PREPARED') resolve();
    });
  });
  await sdk.startClient({ initialSyncLimit: options.initialSyncLimit ?? 10 });
  await prepared;
  return sdk;
}

/**
 * Bootstraps cross-signing on `sdk` (started with `crypto`), answering the interactive auth of
 * the signing keys' upload with `userId`'s `password`; returns the SDK's crypto API.
 */
export async function bootstrapCrossSigning(
  sdk: MatrixClient,
  userId: string,
  password: string,
): Promise<NonNullable<ReturnType<MatrixClient['getCrypto']>>> {
  const crypto = sdk.getCrypto();
  if (crypto === undefined) throw new Error('no crypto');
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: userId },
        password,
      });
    },
  });
  return crypto;
}
