// Shared by the Megolm tests: a message's fields read by the production reader.
import { type MegolmFieldOffsets, readMessage } from '../src/megolm/message.ts';

/** A message's index and where its ciphertext and MAC lie (`readMessage`, the production reader). */
export function fieldsOf(bytes: Uint8Array): MegolmFieldOffsets {
  const at: MegolmFieldOffsets = {
    messageIndex: -1,
    ciphertextStart: -1,
    ciphertextEnd: -1,
    bodyEnd: -1,
  };
  readMessage(bytes, at);
  return at;
}
