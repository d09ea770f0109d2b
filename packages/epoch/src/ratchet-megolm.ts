/**
 * `@weft/ratchet`'s Megolm (spec: Olm & Megolm, "Megolm"; byte-compatible with libolm) behind the
 * engine's {@link MegolmBackend} interface.
 */
import { GroupSession, InboundGroupSession } from '@weft/ratchet';

import type {
  InboundGroupSession as InboundLike,
  MegolmBackend,
  OutboundGroupSession,
} from './types.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function inbound(session: InboundGroupSession): InboundLike & { free(): void } {
  return {
    sessionId: () => session.sessionId(),
    firstKnownIndex: () => session.firstKnownIndex(),
    exportAt(index) {
      const exported = session.exportAt(index);
      if (exported === undefined) throw new RangeError('index precedes the first known index');
      return exported;
    },
    decrypt(message) {
      const { plaintext, messageIndex } = session.decrypt(message);
      try {
        return { plaintext: utf8.decode(plaintext), messageIndex };
      } finally {
        plaintext.fill(0);
      }
    },
    free: () => session.free(),
  };
}

/** Megolm sessions from `@weft/ratchet`, randomness from its system source (`crypto.getRandomValues`). */
export const ratchetMegolm: MegolmBackend = Object.freeze({
  createOutbound(): OutboundGroupSession & { free(): void } {
    const session = GroupSession.create();
    return {
      sessionId: () => session.sessionId(),
      messageIndex: () => session.messageIndex(),
      sessionKey: () => session.sessionKey(),
      encrypt: (plaintext: string) => session.encrypt(plaintext),
      free: () => session.free(),
    };
  },
  inboundFromSessionKey: (sessionKey: string) =>
    inbound(InboundGroupSession.fromSessionKey(sessionKey)),
  inboundFromExport: (exportedKey: string) =>
    inbound(InboundGroupSession.importSession(exportedKey)),
});
