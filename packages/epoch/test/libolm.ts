/**
 * libolm 3.2.13 (Debian's libjs-olm, wasm) loaded in-process: a real, independent Megolm
 * implementation for the simulation and a peer for interop and benchmarks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { InboundGroupSession, MegolmBackend, OutboundGroupSession } from '@weft/epoch';

const OLM_DIR = '/usr/share/nodejs/@matrix-org/olm';

/** The parts of libolm's JS API used here. */
export interface LibOlm {
  OutboundGroupSession: new () => {
    create(): void;
    session_id(): string;
    message_index(): number;
    session_key(): string;
    encrypt(plaintext: string): string;
    free(): void;
  };
  InboundGroupSession: new () => {
    create(key: string): void;
    import_session(key: string): void;
    session_id(): string;
    first_known_index(): number;
    export_session(index: number): string;
    decrypt(message: string): { plaintext: string; message_index: number };
    free(): void;
  };
  Account: new () => {
    create(): void;
    identity_keys(): string;
    generate_one_time_keys(n: number): void;
    one_time_keys(): string;
    mark_keys_as_published(): void;
    free(): void;
  };
  Session: new () => {
    create_outbound(account: unknown, identityKey: string, oneTimeKey: string): void;
    create_inbound(account: unknown, body: string): void;
    encrypt(plaintext: string): { type: 0 | 1; body: string };
    decrypt(type: number, body: string): string;
    free(): void;
  };
  init(options: { wasmBinary: Buffer }): Promise<void>;
}

let loaded: Promise<LibOlm> | undefined;

/** Loads libolm once (`Olm.init` with the wasm bytes; plain `init()` fails on Node ≥ 18). */
export function loadLibOlm(): Promise<LibOlm> {
  loaded ??= (async () => {
    if (!existsSync(`${OLM_DIR}/olm.wasm`)) {
      throw new Error(
        'interop peer missing: libolm wasm (apt-get install libjs-olm; scripts/provision.sh does this)',
      );
    }
    const require = createRequire(import.meta.url);
    const olm = require(`${OLM_DIR}/olm.js`) as LibOlm;
    await olm.init({ wasmBinary: readFileSync(`${OLM_DIR}/olm.wasm`) });
    return olm;
  })();
  return loaded;
}

/** libolm's group sessions behind the engine's {@link MegolmBackend} interface. */
export function libolmMegolm(olm: LibOlm): MegolmBackend {
  const inbound = (session: InstanceType<LibOlm['InboundGroupSession']>): InboundGroupSession => ({
    sessionId: () => session.session_id(),
    firstKnownIndex: () => session.first_known_index(),
    exportAt: (index) => session.export_session(index),
    decrypt: (message) => {
      const { plaintext, message_index } = session.decrypt(message);
      return { plaintext, messageIndex: message_index };
    },
  });
  return {
    createOutbound(): OutboundGroupSession & { free(): void } {
      const session = new olm.OutboundGroupSession();
      session.create();
      return {
        sessionId: () => session.session_id(),
        messageIndex: () => session.message_index(),
        sessionKey: () => session.session_key(),
        encrypt: (plaintext) => session.encrypt(plaintext),
        free: () => session.free(),
      };
    },
    inboundFromSessionKey(key) {
      const session = new olm.InboundGroupSession();
      session.create(key);
      return inbound(session);
    },
    inboundFromExport(key) {
      const session = new olm.InboundGroupSession();
      session.import_session(key);
      return inbound(session);
    },
  };
}
